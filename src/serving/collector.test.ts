import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBlobStore, type BlobStore } from '../blobs/index.js';
import { DatastoreService } from '../datastores/service.js';
import type { OnlineDeploymentSpec } from '../specs/index.js';
import { inputRows, outputRows } from './collected-rows.js';
import { collectorConfig, DataCollector, windowPath, type Exchange } from './collector.js';

describe('collected rows', () => {
  const rows = [
    { a: 1, b: 'x' },
    { a: 2, b: 'y' },
  ];
  it.each([
    ['Azure split', { input_data: { columns: ['a', 'b'], index: [0, 1], data: [[1, 'x'], [2, 'y']] } }],
    ['Azure named columns', { input_data: { a: [1, 2], b: ['x', 'y'] } }],
    ['dataframe_split', { dataframe_split: { columns: ['a', 'b'], data: [[1, 'x'], [2, 'y']] } }],
    ['dataframe_records', { dataframe_records: rows }],
    ['instances as records', { instances: rows }],
    ['inputs as columns', { inputs: { a: [1, 2], b: ['x', 'y'] } }],
  ])('reads %s as rows', (_shape, body) => {
    expect(inputRows(body)).toEqual(rows);
  });

  it('names the columns of unnamed rows by position', () => {
    expect(inputRows({ input_data: [[5.1, 3.5]] })).toEqual([{ '0': 5.1, '1': 3.5 }]);
    expect(inputRows({ instances: [7, 8] })).toEqual([{ '0': 7 }, { '0': 8 }]);
  });

  it('gives nothing for bodies that are not tables', () => {
    expect(inputRows('text')).toBeUndefined();
    expect(inputRows({ question: 'why?' })).toBeUndefined();
    expect(inputRows({ inputs: { a: [1, 2], b: [3] } })).toBeUndefined();
    expect(inputRows({ dataframe_records: [1, 2] })).toBeUndefined();
  });

  it('reads predictions from either answer shape', () => {
    expect(outputRows([0, 1])).toEqual([{ prediction: 0 }, { prediction: 1 }]);
    expect(outputRows({ predictions: [{ label: 'a', score: 0.9 }] })).toEqual([{ label: 'a', score: 0.9 }]);
    expect(outputRows({ predictions: { label: ['a', 'b'] } })).toEqual([{ label: 'a' }, { label: 'b' }]);
    expect(outputRows({ error: 'no' })).toBeUndefined();
  });
});

describe('data collector', () => {
  let dir: string;
  let blobs: BlobStore;
  let datastores: DatastoreService;
  const errors: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lapis-collector-'));
    blobs = await openBlobStore(join(dir, 'root'));
    datastores = new DatastoreService(blobs);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const spec = (dc: OnlineDeploymentSpec['data_collector']): OnlineDeploymentSpec => ({ name: 'blue', endpoint_name: 'ep1', model: 'azureml:m:1', data_collector: dc }) as OnlineDeploymentSpec;
  const exchange = (id: string, status = 200): Exchange => ({
    workspace: 'default',
    endpoint: 'ep1',
    deployment: 'blue',
    correlationId: id,
    request: { body: Buffer.from(JSON.stringify({ input_data: { columns: ['x'], data: [[1], [2]] } })), contentType: 'application/json' },
    response: { status, body: Buffer.from(status === 200 ? '[0, 1]' : '{"error": "bad"}'), contentType: 'application/json' },
  });

  it('resolves the settings: defaults, string booleans, disabled collections, bad paths', () => {
    const config = collectorConfig(spec({ collections: { model_inputs: { enabled: 'True' }, model_outputs: { enabled: 'False' }, request: {} }, rolling_rate: 'Day' }), datastores);
    expect(config?.rolling).toBe('day');
    expect(config?.samplingRate).toBe(1);
    expect([...(config?.collections.keys() ?? [])]).toEqual(['request', 'model_inputs']);
    expect(config?.collections.get('model_inputs')).toEqual({ datastore: 'workspaceblobstore', path: 'modelDataCollector/ep1/blue/model_inputs' });
    expect(collectorConfig(spec({ collections: { request: { enabled: false } } }), datastores)).toBeUndefined();
    expect(collectorConfig(spec(undefined), datastores)).toBeUndefined();
    expect(() => collectorConfig(spec({ collections: { request: { data: { path: 'azureml://datastores/other/paths/x' } } } }), datastores)).toThrow(/data_collector\.collections\.request\.data\.path: No datastore 'other'/);
  });

  it('lays windows out as Azure ML does', () => {
    const t = Date.UTC(2026, 10, 26, 13, 7, 30);
    expect(windowPath(t, 'hour')).toBe('2026/11/26/13');
    expect(windowPath(t, 'day')).toBe('2026/11/26');
    expect(windowPath(t, 'minute')).toBe('2026/11/26/13/07');
  });

  it('writes every collection of a request with one correlation id, rows only for answered requests', async () => {
    const collector = new DataCollector(datastores, (err) => errors.push(String(err)));
    const config = collectorConfig(spec({ collections: { request: {}, response: {}, model_inputs: {}, model_outputs: {} } }), datastores);
    if (!config) throw new Error('config expected');
    collector.record(config, exchange('req-1'));
    collector.record(config, exchange('req-2', 400));
    await collector.flush();
    const read = async (collection: string) => {
      const out: Record<string, unknown>[] = [];
      for await (const f of blobs.listRecursive(`default/datastores/workspaceblobstore/modelDataCollector/ep1/blue/${collection}`)) {
        expect(f.path).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\d{2}\/.+\.jsonl$/);
        const text = await new Response((await blobs.get(`default/datastores/workspaceblobstore/modelDataCollector/ep1/blue/${collection}/${f.path}`)) as never).text();
        out.push(...text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
      }
      return out;
    };
    const inputs = await read('model_inputs');
    expect(inputs).toHaveLength(1);
    expect(inputs[0]).toMatchObject({ collection: 'model_inputs', correlation_id: 'req-1', endpoint: 'ep1', deployment: 'blue', data: [{ x: 1 }, { x: 2 }] });
    expect((await read('model_outputs'))[0]).toMatchObject({ correlation_id: 'req-1', data: [{ prediction: 0 }, { prediction: 1 }] });
    const responses = await read('response');
    expect(responses.map((r) => [r.correlation_id, r.status]).sort()).toEqual([
      ['req-1', 200],
      ['req-2', 400],
    ]);
    expect((await read('request')).every((r) => typeof r.data === 'object')).toBe(true);
    const status = collector.status('ep1', 'blue', config);
    expect(status.records).toEqual({ request: 2, response: 2, model_inputs: 1, model_outputs: 1 });
    expect(status).toMatchObject({ dropped: 0, last_error: null, sampling_rate: 1, rolling_rate: 'hour' });
    expect(errors).toEqual([]);
  });

  it('counts what storage refused as dropped and reports the error', async () => {
    const failing = new DataCollector({ put: () => Promise.reject(new Error('disk full')) }, (err) => errors.push(String(err)));
    const config = collectorConfig(spec({ collections: { request: {} } }), datastores);
    if (!config) throw new Error('config expected');
    failing.record(config, exchange('req-3'));
    await failing.flush();
    expect(failing.status('ep1', 'blue', config)).toMatchObject({ dropped: 1, last_error: 'disk full' });
    expect(errors.pop()).toContain('disk full');
  });

  it('samples at the configured rate', () => {
    const collector = new DataCollector(datastores, () => undefined);
    const config = collectorConfig(spec({ collections: { request: {} }, sampling_rate: 0.25 }), datastores);
    if (!config) throw new Error('config expected');
    let n = 0;
    for (let i = 0; i < 4000; i++) if (collector.sampled(config)) n++;
    expect(n).toBeGreaterThan(800);
    expect(n).toBeLessThan(1200);
  });
});
