/**
 * The native API's paging for tables and charts, on both backends: runs search at any offset with
 * a total count, and down-sampled metric histories that keep each bucket's extremes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LapisClient } from '../../src/client/index.js';
import { startLapis, type LapisServer } from '../support/server.js';

describe.each(['sqlite', 'postgres'] as const)('on %s', (backend) => {
  let server: LapisServer;
  let client: LapisClient;
  let experimentId: string;
  const runIds: string[] = [];

  const post = async <T>(path: string, body: unknown): Promise<T> => {
    const res = await fetch(`${server.url}/api/2.0/mlflow/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(200);
    return res.json() as Promise<T>;
  };

  beforeAll(async () => {
    server = await startLapis({ backend });
    client = new LapisClient({ url: server.url });
    experimentId = (await post<{ experiment_id: string }>('experiments/create', { name: 'paging' })).experiment_id;
    for (let i = 0; i < 5; i++) {
      const id = (await post<{ run: { info: { run_id: string } } }>('runs/create', { experiment_id: experimentId, run_name: `r${i}`, start_time: 1000 + i })).run.info.run_id;
      runIds.push(id);
      const metrics = Array.from({ length: 500 }, (_, s) => ({ key: 'loss', value: s === 250 ? 9 : s === 400 ? -3 : 1 / (s + 1), timestamp: 5000 + s, step: s }));
      await post('runs/log-batch', { run_id: id, metrics, params: [{ key: 'a', value: String(i % 2) }] });
    }
  });
  afterAll(async () => server?.stop());

  it('pages runs by offset with a total, in the default order and any other', async () => {
    const page = await client.runs.search({ experiments: [experimentId], offset: 1, maxResults: 2, includeTotal: true, orderBy: ['attributes.start_time ASC'] });
    expect(page.total_count).toBe(5);
    expect(page.runs.map((r) => r.info.run_name)).toEqual(['r1', 'r2']);
    expect((await client.runs.search({ experiments: [experimentId], filter: "params.a = '1'", includeTotal: true })).total_count).toBe(2);
    expect((await client.runs.search({ experiments: [experimentId], offset: 3 })).runs.map((r) => r.info.run_name)).toEqual(['r1', 'r0']);
    await expect(client.runs.search({ experiments: [experimentId], offset: 1, pageToken: 'x' })).rejects.toThrow(/either offset or page_token/);
    // Without include_total there is no count to pay for.
    expect((await client.runs.search({ experiments: [experimentId] })).total_count).toBeUndefined();
  });

  it('down-samples a history to its buckets extremes and ends, and counts all of it', async () => {
    const h = await client.runs.metricHistory(runIds[0] as string, 'loss', { maxPoints: 20 });
    expect(h.total).toBe(500);
    expect(h.metrics.length).toBeLessThanOrEqual(22);
    const steps = h.metrics.map((m) => m.step);
    expect(steps).toEqual(expect.arrayContaining([0, 250, 400, 499]));
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect((await client.runs.metricHistory(runIds[0] as string, 'loss', { maxPoints: 1000 })).metrics).toHaveLength(500);
    await expect(client.runs.metricHistory(runIds[0] as string, 'loss', { maxPoints: 1 })).rejects.toThrow(/max_points/);
  });
});
