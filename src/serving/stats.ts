import { Counter, Histogram, type Registry } from 'prom-client';

const WINDOW = 2048;

interface Window {
  requests: number;
  errors: number;
  throttled: number;
  /** The latest WINDOW latencies (ms), a ring. */
  latencies: number[];
  next: number;
}

export interface DeploymentMetrics {
  requests: number;
  /** 5xx answers (the deployment's fault), not 4xx (the caller's). */
  errors: number;
  error_rate: number;
  throttled: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
}

/**
 * Per-deployment request statistics: Prometheus series for scraping, and a window of recent
 * latencies for `lapis online-deployment show` (percentiles of the last 2,048 requests).
 */
export class ServingStats {
  readonly #windows = new Map<string, Window>();
  #requests: Counter<'endpoint' | 'deployment' | 'status'> | undefined;
  #latency: Histogram<'endpoint' | 'deployment'> | undefined;

  register(registry: Registry): void {
    this.#requests = new Counter({
      name: 'lapis_endpoint_requests_total',
      help: 'Scoring requests by endpoint, deployment and status code.',
      labelNames: ['endpoint', 'deployment', 'status'] as const,
      registers: [registry],
    });
    this.#latency = new Histogram({
      name: 'lapis_endpoint_request_duration_seconds',
      help: 'Scoring latency through the router, by endpoint and deployment.',
      labelNames: ['endpoint', 'deployment'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }

  record(endpoint: string, deployment: string, status: number, ms: number): void {
    const key = `${endpoint}/${deployment}`;
    let w = this.#windows.get(key);
    if (!w) this.#windows.set(key, (w = { requests: 0, errors: 0, throttled: 0, latencies: [], next: 0 }));
    w.requests += 1;
    if (status >= 500) w.errors += 1;
    if (status === 429) w.throttled += 1;
    if (w.latencies.length < WINDOW) w.latencies.push(ms);
    else w.latencies[w.next] = ms;
    w.next = (w.next + 1) % WINDOW;
    this.#requests?.inc({ endpoint, deployment, status: String(status) });
    this.#latency?.observe({ endpoint, deployment }, ms / 1000);
  }

  of(endpoint: string, deployment: string): DeploymentMetrics {
    const w = this.#windows.get(`${endpoint}/${deployment}`);
    const sorted = [...(w?.latencies ?? [])].sort((a, b) => a - b);
    const pct = (p: number): number | null => (sorted.length === 0 ? null : Math.round((sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number) * 100) / 100);
    const requests = w?.requests ?? 0;
    return { requests, errors: w?.errors ?? 0, error_rate: requests ? (w?.errors ?? 0) / requests : 0, throttled: w?.throttled ?? 0, p50_ms: pct(50), p95_ms: pct(95), p99_ms: pct(99) };
  }

  forget(endpoint: string, deployment?: string): void {
    for (const key of this.#windows.keys()) if (deployment ? key === `${endpoint}/${deployment}` : key.startsWith(`${endpoint}/`)) this.#windows.delete(key);
  }
}
