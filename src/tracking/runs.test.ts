import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../store/db.js';
import type { Tracking } from './index.js';
import { trackingWithRun, WS } from './test-fixture.js';

const T0 = 1_700_000_000_000;

/** log-batch's SQLite path writes rows through multi-row statements of 100, 10 and 1 rows. */
describe('log-batch metric rows on SQLite', () => {
  let database: Database;
  let tracking: Tracking;
  let runId: string;

  beforeEach(async () => {
    ({ database, tracking, runId } = await trackingWithRun());
  });
  afterEach(async () => {
    await database.close();
  });

  const point = (key: string, step: number, value = step / 4) => ({ key, value, timestamp: T0 + step, step });

  it('stores every point of a batch whose size is no multiple of the chunk sizes, re-sent points once', async () => {
    const first = Array.from({ length: 237 }, (_, i) => point(i % 2 ? 'a' : 'b', i));
    await tracking.runs.logBatch(WS, runId, first, [], []);
    // Again the first 12 points, one of them twice in the batch, and 3 new ones.
    const second = [...first.slice(0, 12), first[5], ...[237, 238, 239].map((s) => point('a', s))];
    await tracking.runs.logBatch(WS, runId, second, [], []);
    const steps = (key: string) => Array.from({ length: 240 }, (_, s) => s).filter((s) => (s % 2 ? 'a' : 'b') === key || (key === 'a' && s >= 237));
    const a = (await tracking.metrics.history(WS, runId, 'a')).metrics;
    const b = (await tracking.metrics.history(WS, runId, 'b')).metrics;
    expect(a).toEqual([...new Set(steps('a'))].map((s) => point('a', s)));
    expect(b).toEqual(steps('b').filter((s) => s < 237).map((s) => point('b', s)));
    expect((await tracking.runs.get(WS, runId)).data.metrics.find((m) => m.key === 'a')).toEqual(point('a', 239));
  });

  it('keeps dataset fields, NaN and infinities', async () => {
    const metrics = [
      ...Array.from({ length: 104 }, (_, i) => point('m', i)),
      { key: 'm', value: Number.NaN, timestamp: T0, step: 200, dataset_name: 'train', dataset_digest: 'abc' },
      { key: 'm', value: Number.POSITIVE_INFINITY, timestamp: T0, step: 201 },
    ];
    await tracking.runs.logBatch(WS, runId, metrics, [], []);
    const history = (await tracking.metrics.history(WS, runId, 'm')).metrics;
    expect(history).toHaveLength(106);
    expect(history.slice(-2)).toEqual([
      { key: 'm', value: 'NaN', timestamp: T0, step: 200 },
      { key: 'm', value: 'Infinity', timestamp: T0, step: 201 },
    ]);
    const row = await database.db.selectFrom('metrics').select(['dataset_name', 'dataset_digest', 'is_nan']).where('step', '=', 200).executeTakeFirstOrThrow();
    expect(row).toEqual({ dataset_name: 'train', dataset_digest: 'abc', is_nan: 1 });
  });
});
