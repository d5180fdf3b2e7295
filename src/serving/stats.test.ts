import { describe, expect, it } from 'vitest';
import { ServingStats } from './stats.js';

describe('ServingStats', () => {
  it('counts requests, errors and throttling, and gives percentiles of the recent window', () => {
    const stats = new ServingStats();
    for (let i = 1; i <= 100; i++) stats.record('ep', 'blue', 200, i);
    stats.record('ep', 'blue', 503, 1);
    stats.record('ep', 'blue', 429, 1);
    const m = stats.of('ep', 'blue');
    expect(m).toMatchObject({ requests: 102, errors: 1, throttled: 1, p50_ms: 49, p99_ms: 99 });
    expect(m.error_rate).toBeCloseTo(1 / 102);
    expect(stats.of('ep', 'green')).toMatchObject({ requests: 0, p50_ms: null });
  });

  it('counts the model runs of an ONNX deployment and the requests they answered; none for a Python one', () => {
    const stats = new ServingStats();
    // Two runs alone, then one run shared by three requests; a 400 (no run) and a Python answer.
    for (const runs of [1, 1, 1, 0, 0] as const) stats.record('ep', 'onnx', 200, 1, runs);
    stats.record('ep', 'onnx', 400, 1, 0);
    stats.record('ep', 'py', 200, 1);
    expect(stats.of('ep', 'onnx')).toMatchObject({ requests: 6, model_runs: 3, requests_per_run: 1.67 });
    expect(stats.of('ep', 'py')).toMatchObject({ model_runs: null, requests_per_run: null });
    const text = stats.prometheus();
    expect(text).toContain('lapis_endpoint_model_runs_total{endpoint="ep",deployment="onnx"} 3');
    expect(text).toContain('lapis_endpoint_model_run_requests_total{endpoint="ep",deployment="onnx"} 5');
    expect(text).not.toContain('lapis_endpoint_model_runs_total{endpoint="ep",deployment="py"}');
  });

  it('keeps only the latest 2,048 latencies for the percentiles', () => {
    const stats = new ServingStats();
    for (let i = 0; i < 3000; i++) stats.record('ep', 'blue', 200, i < 952 ? 1000 : 1);
    expect(stats.of('ep', 'blue')).toMatchObject({ requests: 3000, p99_ms: 1 });
  });

  it('writes Prometheus text: counters by status, cumulative histogram buckets, escaped labels', () => {
    const stats = new ServingStats();
    stats.record('ep', 'blue', 200, 0.5);
    stats.record('ep', 'blue', 200, 3);
    stats.record('ep', 'blue', 500, 20_000);
    stats.record('e"p', 'green', 200, 1);
    const text = stats.prometheus();
    expect(text).toContain('# TYPE lapis_endpoint_requests_total counter');
    expect(text).toContain('lapis_endpoint_requests_total{endpoint="ep",deployment="blue",status="200"} 2');
    expect(text).toContain('lapis_endpoint_requests_total{endpoint="ep",deployment="blue",status="500"} 1');
    expect(text).toContain('lapis_endpoint_request_duration_seconds_bucket{endpoint="ep",deployment="blue",le="0.001"} 1');
    expect(text).toContain('lapis_endpoint_request_duration_seconds_bucket{endpoint="ep",deployment="blue",le="0.0025"} 1');
    expect(text).toContain('lapis_endpoint_request_duration_seconds_bucket{endpoint="ep",deployment="blue",le="0.005"} 2');
    expect(text).toContain('lapis_endpoint_request_duration_seconds_bucket{endpoint="ep",deployment="blue",le="10"} 2');
    expect(text).toContain('lapis_endpoint_request_duration_seconds_bucket{endpoint="ep",deployment="blue",le="+Inf"} 3');
    expect(text).toContain('lapis_endpoint_request_duration_seconds_count{endpoint="ep",deployment="blue"} 3');
    expect(text).toMatch(/lapis_endpoint_request_duration_seconds_sum\{endpoint="ep",deployment="blue"\} 20\.0035\d*\n/);
    expect(text).toContain('endpoint="e\\"p",deployment="green"');
  });

  it('forgets a deployment or a whole endpoint', () => {
    const stats = new ServingStats();
    stats.record('ep', 'blue', 200, 1);
    stats.record('ep', 'green', 200, 1);
    stats.forget('ep', 'blue');
    expect(stats.of('ep', 'blue').requests).toBe(0);
    expect(stats.of('ep', 'green').requests).toBe(1);
    stats.forget('ep');
    expect(stats.prometheus()).not.toContain('deployment="green"');
  });
});
