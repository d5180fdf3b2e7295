import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downsampleIndices } from '../core/downsample.js';
import type { Database } from '../store/db.js';
import type { Tracking } from './index.js';
import { trackingWithRun, WS } from './test-fixture.js';

const T0 = 1_700_000_000_000;

/** Charts' down-sampled histories: SQLite computes the buckets; they must be those of downsampleIndices. */
describe('down-sampled metric histories', () => {
  let database: Database;
  let tracking: Tracking;
  let runId: string;

  beforeEach(async () => {
    ({ database, tracking, runId } = await trackingWithRun());
  });
  afterEach(async () => {
    await database.close();
  });

  const values = (n: number) =>
    Array.from({ length: n }, (_, s) => (s === 777 ? 99 : s === 5000 ? Number.NaN : s === 8000 ? -50 : Math.sin(s / 300)));

  async function logHistory(n: number): Promise<number[]> {
    const v = values(n);
    for (let i = 0; i < n; i += 1000) {
      const batch = v.slice(i, i + 1000).map((value, j) => ({ key: 'loss', value: Number.isNaN(value) ? 'NaN' : value, timestamp: T0 + (i + j) * 10, step: i + j }));
      await tracking.runs.logBatch(WS, runId, batch, [], []);
    }
    return v;
  }

  it('keeps the extremes of each bucket, both ends, no NaN inside, and counts every point', async () => {
    const v = await logHistory(10_000);
    const res = JSON.parse(await tracking.metrics.historyDownsampledJson(WS, runId, 'loss', 200)) as { metrics: { step: number; value: number | string; timestamp: number }[]; total: number };
    expect(res.total).toBe(10_000);
    expect(res.metrics.length).toBeLessThanOrEqual(202);
    const steps = res.metrics.map((m) => m.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(steps[0]).toBe(0);
    expect(steps.at(-1)).toBe(9_999);
    expect(steps).toContain(777);
    expect(steps).toContain(8000);
    expect(steps).not.toContain(5000);
    expect(res.metrics.find((m) => m.step === 777)).toEqual({ key: 'loss', step: 777, value: 99, timestamp: T0 + 7770 });
    // The same points as the in-memory algorithm picks (ties aside, which this curve has none of).
    const xs = v.map((_, i) => i);
    const expected = downsampleIndices(xs, v.map((y) => (Number.isNaN(y) ? null : y)), 200);
    expect(steps).toEqual(expected);
  });

  it('returns short histories whole, and serves a repeat from its cache until the next write', async () => {
    await logHistory(100);
    const short = JSON.parse(await tracking.metrics.historyDownsampledJson(WS, runId, 'loss', 200)) as { metrics: unknown[]; total: number };
    expect(short).toMatchObject({ total: 100 });
    expect(short.metrics).toHaveLength(100);
    await logHistory(3000);
    const long = JSON.parse(await tracking.metrics.historyDownsampledJson(WS, runId, 'loss', 200)) as { total: number };
    expect(long.total).toBe(3000);
  });
});
