/**
 * Bad input never damages the store. Every malformed, oversized, forbidden or misdirected request is
 * refused with the exact HTTP status and MLflow `error_code`, a message naming the problem, and no
 * change to anything stored: runs (params, metrics, tags), metric histories, experiments, artifacts
 * and the files under the server's data dir are compared before and after each request.
 *
 * Requests go through node:http with the path sent byte for byte: fetch (WHATWG URL) would resolve
 * `..` and `%2e%2e` and turn `\` into `/` before the server ever saw them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLapis, type LapisServer } from '../support/server.js';

type Backend = 'sqlite' | 'postgres';
const BACKENDS: Backend[] = ['sqlite', 'postgres'];

const MLFLOW = '/api/2.0/mlflow';
const PROXY = '/api/2.0/mlflow-artifacts/artifacts';
const T0 = 1_700_000_000_000;
/** Every metric key a case touches; the snapshot reads each one's full history on every run. */
const METRIC_KEYS = ['rmse', 'acc', 'loss'] as const;

// ------------------------------------------------------------------------------------------------
// HTTP
// ------------------------------------------------------------------------------------------------

interface Reply {
  method: string;
  path: string;
  status: number;
  contentType: string;
  text: string;
  /** The parsed body when it is JSON, else {}. */
  json: Record<string, unknown>;
}

/** Bodies above this are sent in two steps (see Api.send). */
const LARGE_BODY = 1 << 20;

type Query = Record<string, string | number | string[] | undefined>;

function queryString(query: Query): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

/** One server's client. Records every answer, so a suite can prove it never saw a 5xx. */
class Api {
  readonly replies: { method: string; path: string; status: number; body: string }[] = [];
  readonly #base: URL;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(url: string) {
    this.#base = new URL(url);
  }

  /** Sends `path` exactly as given (no normalisation of dots, percent-escapes or backslashes). */
  send(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      let answered = false;
      const req = httpRequest(
        {
          host: this.#base.hostname,
          port: this.#base.port,
          method,
          path,
          agent: this.#agent,
          headers: body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers },
        },
        (res) => {
          answered = true;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const contentType = String(res.headers['content-type'] ?? '');
            let json: Record<string, unknown> = {};
            if (contentType.startsWith('application/json')) {
              try {
                json = JSON.parse(text) as Record<string, unknown>;
              } catch {
                json = {};
              }
            }
            const reply: Reply = { method, path, status: res.statusCode ?? 0, contentType, text, json };
            this.replies.push({ method, path: path.length > 200 ? `${path.slice(0, 200)}…` : path, status: reply.status, body: text.slice(0, 400) });
            resolve(reply);
          });
        },
      );
      // A server may answer (413) and close before a large body is fully sent; the answer is what counts.
      req.on('error', (err) => {
        if (!answered) reject(err);
      });
      if (body === undefined || body.length <= LARGE_BODY) {
        req.end(body);
        return;
      }
      // Large bodies: send a first slice and give the server a moment to refuse the rest, so the
      // refusal is read before the server closes the socket on a body it will not take.
      const bytes = Buffer.from(body);
      req.write(bytes.subarray(0, LARGE_BODY));
      const rest = setTimeout(() => {
        if (!answered) req.end(bytes.subarray(LARGE_BODY));
      }, 1_000);
      req.once('response', () => clearTimeout(rest));
    });
  }

  post(rpc: string, body: unknown, headers: Record<string, string> = {}, prefix = MLFLOW): Promise<Reply> {
    return this.send('POST', `${prefix}/${rpc}`, JSON.stringify(body), { 'content-type': 'application/json', ...headers });
  }

  get(rpc: string, query: Query = {}, headers: Record<string, string> = {}, prefix = MLFLOW): Promise<Reply> {
    return this.send('GET', `${prefix}/${rpc}${queryString(query)}`, undefined, headers);
  }

  /** A request that must succeed; returns its JSON body. */
  async ok<T>(reply: Promise<Reply>): Promise<T> {
    const res = await reply;
    if (res.status !== 200) throw new Error(`${res.method} ${res.path} answered ${res.status}: ${res.text.slice(0, 500)}`);
    return res.json as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}

function expectError(res: Reply, status: number, errorCode: string, phrases: readonly (string | RegExp)[]): void {
  const context = `${res.method} ${res.path.slice(0, 200)} answered ${res.status} ${res.contentType}: ${res.text.slice(0, 600)}`;
  expect(res.status, context).toBe(status);
  expect(res.contentType, context).toMatch(/^application\/json/);
  expect(res.json.error_code, context).toBe(errorCode);
  const message = res.json.message;
  expect(typeof message, context).toBe('string');
  for (const phrase of phrases) {
    if (typeof phrase === 'string') expect(message, context).toContain(phrase);
    else expect(message, context).toMatch(phrase);
  }
}

// ------------------------------------------------------------------------------------------------
// Store snapshots
// ------------------------------------------------------------------------------------------------

interface RunJson {
  info: { run_id: string; artifact_uri: string; lifecycle_stage: string; start_time: number };
  data: { metrics?: { key: string }[]; params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] };
}
interface ExperimentJson {
  experiment_id: string;
  name: string;
  lifecycle_stage: string;
}

interface Fixture {
  experimentId: string;
  runId: string;
  deletedRunId: string;
  deletedExperimentId: string;
  deletedExperimentRunId: string;
  /** Proxy path of the live run's artifact root, e.g. `1/<run id>/artifacts`. */
  artifactDir: string;
  runIds: string[];
}

/** Every file and directory under root (the SQLite files excepted: their pages churn on reads), with size and digest. */
async function fileTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (!rel && /^lapis\.db/.test(entry.name)) continue;
      if (entry.isDirectory()) {
        out[`${path}/`] = 'dir';
        await walk(join(dir, entry.name), path);
      } else {
        const bytes = await readFile(join(dir, entry.name));
        out[path] = `${bytes.length}:${createHash('sha256').update(bytes).digest('hex')}`;
      }
    }
  };
  await walk(root, '');
  return out;
}

async function snapshot(api: Api, fx: Fixture, dataDir: string): Promise<Record<string, unknown>> {
  const { experiments } = await api.ok<{ experiments: ExperimentJson[] }>(api.get('experiments/search', { view_type: 'ALL', max_results: 1000 }));
  const ids = experiments.map((e) => e.experiment_id).sort();
  const { runs = [] } = await api.ok<{ runs?: RunJson[] }>(api.post('runs/search', { experiment_ids: ids, run_view_type: 'ALL', max_results: 1000 }));
  const perRun: Record<string, unknown> = {};
  for (const runId of fx.runIds) {
    const { run } = await api.ok<{ run: RunJson }>(api.get('runs/get', { run_id: runId }));
    const histories: Record<string, unknown> = {};
    for (const key of METRIC_KEYS) histories[key] = (await api.ok<{ metrics?: unknown[] }>(api.get('metrics/get-history', { run_id: runId, metric_key: key }))).metrics ?? [];
    perRun[runId] = { run, histories };
  }
  return {
    experiments: [...experiments].sort((a, b) => a.experiment_id.localeCompare(b.experiment_id)),
    runs: [...runs].sort((a, b) => a.info.run_id.localeCompare(b.info.run_id)),
    perRun,
    runArtifacts: await api.ok(api.get('artifacts/list', { run_id: fx.runId, path: 'model' })),
    proxyListing: await api.ok(api.send('GET', `${PROXY}${queryString({ path: `${fx.artifactDir}/model` })}`)),
    proxyRoot: await api.ok(api.send('GET', PROXY)),
    workspaces: await api.ok(api.send('GET', '/api/3.0/mlflow/workspaces')),
    files: await fileTree(dataDir),
  };
}

// ------------------------------------------------------------------------------------------------
// Request builders
// ------------------------------------------------------------------------------------------------

const metric = (key: string, value: unknown, step: unknown = 0, timestamp: unknown = T0): Record<string, unknown> => ({ key, value, timestamp, step });
const metricsOf = (n: number, key = 'loss'): Record<string, unknown>[] => Array.from({ length: n }, (_, i) => metric(key, i / 8, i, T0 + i));
const paramsOf = (n: number): { key: string; value: string }[] => Array.from({ length: n }, (_, i) => ({ key: `p${i}`, value: String(i) }));
const tagsOf = (n: number): { key: string; value: string }[] => Array.from({ length: n }, (_, i) => ({ key: `t${i}`, value: String(i) }));
/** A well-formed run id that names no run. */
const UNKNOWN_RUN = '0123456789abcdef0123456789abcdef';
const UNKNOWN_MODEL = 'm-0123456789abcdef0123456789abcdef';
/** A page token of the server's own shape ({"offset": n}, base64url) with an offset of our choosing. */
const forgedToken = (offset: string): string => Buffer.from(`{"offset":${offset}}`).toString('base64url');

interface Ctx {
  api: Api;
  fx: Fixture;
}

interface BadCase {
  name: string;
  send: (c: Ctx) => Promise<Reply>;
  status: number;
  code: string;
  phrases: (c: Ctx) => (string | RegExp)[];
}

const c = (name: string, status: number, code: string, phrases: BadCase['phrases'], send: BadCase['send']): BadCase => ({ name, status, code, phrases, send });
const INVALID = 'INVALID_PARAMETER_VALUE';
const MISSING = 'RESOURCE_DOES_NOT_EXIST';

/** A log-batch that would write a new param, tag and metric: the payload of the transport cases. */
const writingBatch = (runId: string): Record<string, unknown> => ({
  run_id: runId,
  params: [{ key: 'gamma', value: '1' }],
  tags: [{ key: 'written', value: 'yes' }],
  metrics: [metric('loss', 1, 0)],
});
const rawPost = (x: Ctx, rpc: string, body: string, contentType?: string): Promise<Reply> =>
  x.api.send('POST', `${MLFLOW}/${rpc}`, body, contentType === undefined ? {} : { 'content-type': contentType });

const MEDIA_TYPE_PHRASE = 'Content-Type: application/json';

const CASES: { group: string; cases: BadCase[] }[] = [
  {
    group: 'request bodies',
    cases: [
      c('malformed JSON body', 400, 'BAD_REQUEST', () => [/not valid JSON/i], (x) => rawPost(x, 'runs/log-batch', `{"run_id": "${x.fx.runId}", "params": [`, 'application/json')),
      c('JSON array body', 400, 'BAD_REQUEST', () => ['must be a JSON object'], (x) => rawPost(x, 'runs/log-batch', JSON.stringify([writingBatch(x.fx.runId)]), 'application/json')),
      c('JSON number body', 400, 'BAD_REQUEST', () => ['must be a JSON object'], (x) => rawPost(x, 'runs/log-batch', '42', 'application/json')),
      c('JSON string body', 400, 'BAD_REQUEST', () => ['must be a JSON object'], (x) => rawPost(x, 'runs/log-batch', '"run_id"', 'application/json')),
      c('empty body with a JSON content type', 400, 'BAD_REQUEST', () => [/empty/i, 'Send a JSON object'], (x) => rawPost(x, 'runs/log-batch', '', 'application/json')),
      c('Content-Type text/plain on a POST RPC', 415, 'BAD_REQUEST', () => [MEDIA_TYPE_PHRASE], (x) => rawPost(x, 'runs/log-batch', JSON.stringify(writingBatch(x.fx.runId)), 'text/plain')),
      c('Content-Type application/x-www-form-urlencoded on a POST RPC', 415, 'BAD_REQUEST', () => [MEDIA_TYPE_PHRASE], (x) =>
        rawPost(x, 'runs/log-batch', `run_id=${x.fx.runId}&params=gamma`, 'application/x-www-form-urlencoded'),
      ),
      c('Content-Type application/xml on a POST RPC', 415, 'BAD_REQUEST', () => [MEDIA_TYPE_PHRASE], (x) => rawPost(x, 'runs/log-batch', '<batch/>', 'application/xml')),
      c('no Content-Type on a POST RPC', 415, 'BAD_REQUEST', () => [MEDIA_TYPE_PHRASE], (x) => rawPost(x, 'runs/log-batch', JSON.stringify(writingBatch(x.fx.runId)))),
    ],
  },
  {
    group: 'unknown ids',
    cases: [
      c('runs/get of an unknown run id', 404, MISSING, () => [UNKNOWN_RUN, 'not found'], (x) => x.api.get('runs/get', { run_id: UNKNOWN_RUN })),
      c('log-batch to an unknown run id', 404, MISSING, () => [UNKNOWN_RUN, 'not found'], (x) => x.api.post('runs/log-batch', writingBatch(UNKNOWN_RUN))),
      c('log-metric to an unknown run id', 404, MISSING, () => [UNKNOWN_RUN], (x) => x.api.post('runs/log-metric', { run_id: UNKNOWN_RUN, ...metric('loss', 1) })),
      c('runs/update of an unknown run id', 404, MISSING, () => [UNKNOWN_RUN], (x) => x.api.post('runs/update', { run_id: UNKNOWN_RUN, status: 'FINISHED' })),
      c('get-history of an unknown run id', 404, MISSING, () => [UNKNOWN_RUN], (x) => x.api.get('metrics/get-history', { run_id: UNKNOWN_RUN, metric_key: 'rmse' })),
      c('experiments/get of an unknown experiment id', 404, MISSING, () => ['987654'], (x) => x.api.get('experiments/get', { experiment_id: '987654' })),
      c('runs/create in an unknown experiment id', 404, MISSING, () => ['987654'], (x) => x.api.post('runs/create', { experiment_id: '987654', run_name: 'ghost' })),
      c('experiments/delete of an unknown experiment id', 404, MISSING, () => ['987654'], (x) => x.api.post('experiments/delete', { experiment_id: '987654' })),
      c('set-experiment-tag on an unknown experiment id', 404, MISSING, () => ['987654'], (x) => x.api.post('experiments/set-experiment-tag', { experiment_id: '987654', key: 'k', value: 'v' })),
      c('GET of an unknown logged model id', 404, MISSING, () => [UNKNOWN_MODEL, 'not found'], (x) => x.api.send('GET', `${MLFLOW}/logged-models/${UNKNOWN_MODEL}`)),
      c('finalizing an unknown logged model id', 404, MISSING, () => [UNKNOWN_MODEL], (x) =>
        x.api.send('PATCH', `${MLFLOW}/logged-models/${UNKNOWN_MODEL}`, JSON.stringify({ status: 'LOGGED_MODEL_READY' }), { 'content-type': 'application/json' }),
      ),
      c('logging params to an unknown logged model id', 404, MISSING, () => [UNKNOWN_MODEL], (x) =>
        x.api.post(`logged-models/${UNKNOWN_MODEL}/params`, { params: [{ key: 'gamma', value: '1' }] }),
      ),
      c('runs/get of a malformed run id', 404, MISSING, () => ['not-a-run-id', 'not found'], (x) => x.api.get('runs/get', { run_id: 'not-a-run-id' })),
      c('log-batch to a malformed, SQL-looking run id', 404, MISSING, () => ['not found'], (x) => x.api.post('runs/log-batch', writingBatch("x' OR '1'='1"))),
      c('log-batch to the upper-cased id of a live run', 404, MISSING, (x) => [x.fx.runId.toUpperCase()], (x) => x.api.post('runs/log-batch', writingBatch(x.fx.runId.toUpperCase()))),
      c('artifacts/list of a path-like run id', 404, MISSING, () => ['../../etc'], (x) => x.api.get('artifacts/list', { run_id: '../../etc' })),
    ],
  },
  {
    group: 'log-batch limits (nothing of the batch is written)',
    cases: [
      c('1001 metrics', 400, INVALID, () => ['at most 1000 metrics', 'got 1001 metrics'], (x) => x.api.post('runs/log-batch', { run_id: x.fx.runId, metrics: metricsOf(1001) })),
      c('101 params', 400, INVALID, () => ['100 params', 'got 0 metrics, 101 params'], (x) => x.api.post('runs/log-batch', { run_id: x.fx.runId, params: paramsOf(101) })),
      c('101 tags', 400, INVALID, () => ['100 tags', '0 params and 101 tags'], (x) => x.api.post('runs/log-batch', { run_id: x.fx.runId, tags: tagsOf(101) })),
      c('1001 entities in total (900 metrics, 100 params, 1 tag)', 400, INVALID, () => ['1000 entities', 'got 900 metrics, 100 params and 1 tags'], (x) =>
        x.api.post('runs/log-batch', { run_id: x.fx.runId, metrics: metricsOf(900), params: paramsOf(100), tags: tagsOf(1) }),
      ),
      c('1 param, 1 tag and 997 valid metrics, then a last metric with value "abc"', 400, INVALID, () => ["invalid value 'abc'", "'loss'"], (x) =>
        x.api.post('runs/log-batch', { run_id: x.fx.runId, params: paramsOf(1), tags: tagsOf(1), metrics: [...metricsOf(997), metric('loss', 'abc', 997)] }),
      ),
      c('valid metrics and params, then a last tag with an invalid key', 400, INVALID, () => ['Invalid Tag name', 'bad:key'], (x) =>
        x.api.post('runs/log-batch', { run_id: x.fx.runId, params: paramsOf(3), metrics: metricsOf(10), tags: [...tagsOf(3), { key: 'bad:key', value: 'v' }] }),
      ),
      c('valid metrics, then a last param that changes an existing value', 400, INVALID, () => ['Changing param values is not allowed', "'alpha'", "'0.5'"], (x) =>
        x.api.post('runs/log-batch', { run_id: x.fx.runId, metrics: metricsOf(10), tags: tagsOf(2), params: [...paramsOf(3), { key: 'alpha', value: '0.9' }] }),
      ),
    ],
  },
  {
    group: 'wrong types',
    cases: [
      c('metric value "abc"', 400, INVALID, () => ["invalid value 'abc'", "metric 'loss'"], (x) => x.api.post('runs/log-metric', { run_id: x.fx.runId, ...metric('loss', 'abc') })),
      c('metric value true', 400, INVALID, () => ['invalid value boolean true', "metric 'loss'"], (x) => x.api.post('runs/log-metric', { run_id: x.fx.runId, ...metric('loss', true) })),
      c('metric without a value', 400, INVALID, () => ["'value'", "metric 'loss'"], (x) => x.api.post('runs/log-metric', { run_id: x.fx.runId, key: 'loss', timestamp: T0, step: 0 })),
      c('metric timestamp "x"', 400, INVALID, () => ["'timestamp' of metric 'loss' must be an integer", "'x'"], (x) => x.api.post('runs/log-metric', { run_id: x.fx.runId, ...metric('loss', 1, 0, 'x') })),
      c('metric step 1.5', 400, INVALID, () => ["'step' of metric 'loss' must be an integer", '1.5'], (x) => x.api.post('runs/log-metric', { run_id: x.fx.runId, ...metric('loss', 1, 1.5) })),
      c('metric step beyond 2^53', 400, INVALID, () => ["'step' of metric 'loss' must be an integer"], (x) =>
        x.api.post('runs/log-batch', { run_id: x.fx.runId, metrics: [metric('loss', 1, '99999999999999999999')] }),
      ),
      c('log-batch params as an object, not a list', 400, INVALID, () => ["'params' must be a list"], (x) => x.api.post('runs/log-batch', { run_id: x.fx.runId, params: { gamma: '1' } })),
      c('log-batch metrics as an object, not a list', 400, INVALID, () => ["'metrics' must be a list"], (x) => x.api.post('runs/log-batch', { run_id: x.fx.runId, metrics: metric('loss', 1) })),
      c('log-batch metrics entry null', 400, INVALID, () => ['metrics[0] must be an object'], (x) => x.api.post('runs/log-batch', { run_id: x.fx.runId, metrics: [null] })),
      c('log-batch tag value a number', 400, INVALID, () => ["('written') value must be a string", 'number 5'], (x) =>
        x.api.post('runs/log-batch', { run_id: x.fx.runId, tags: [{ key: 'written', value: 5 }] }),
      ),
      c('runs/create with experiment_id {}', 400, INVALID, () => ["'experiment_id'"], (x) => x.api.post('runs/create', { experiment_id: {}, run_name: 'ghost' })),
      c('runs/create with experiment_id "abc"', 400, INVALID, () => ["Invalid experiment id 'abc'"], (x) => x.api.post('runs/create', { experiment_id: 'abc', run_name: 'ghost' })),
      c('experiments/create with name {}', 400, INVALID, () => ['Invalid experiment name', "'name'"], (x) => x.api.post('experiments/create', { name: { a: 1 } })),
      c('runs/update with status "BOGUS"', 400, INVALID, () => ["Invalid run status 'BOGUS'"], (x) => x.api.post('runs/update', { run_id: x.fx.runId, status: 'BOGUS' })),
      c('runs/update with end_time "soon"', 400, INVALID, () => ["'end_time' must be an integer"], (x) => x.api.post('runs/update', { run_id: x.fx.runId, end_time: 'soon' })),
    ],
  },
  {
    group: 'params, keys and values',
    cases: [
      c("changing a param's value with log-parameter", 400, INVALID, (x) => ['Changing param values is not allowed', "key='alpha'", "value='0.5'", x.fx.runId], (x) =>
        x.api.post('runs/log-parameter', { run_id: x.fx.runId, key: 'alpha', value: '0.7' }),
      ),
      c('duplicate param keys with different values in one batch', 400, INVALID, () => ['Duplicate parameter keys', "'gamma'"], (x) =>
        x.api.post('runs/log-batch', { run_id: x.fx.runId, params: [{ key: 'gamma', value: '1' }, { key: 'gamma', value: '2' }], metrics: metricsOf(3) }),
      ),
      c('param value of 6001 characters', 400, INVALID, () => ["Param 'gamma'", '6001 characters', 'limit is 6000'], (x) =>
        x.api.post('runs/log-parameter', { run_id: x.fx.runId, key: 'gamma', value: 'v'.repeat(6001) }),
      ),
      c('tag value of 8001 characters', 400, INVALID, () => ["Tag 'written'", '8001 characters', 'limit is 8000'], (x) =>
        x.api.post('runs/set-tag', { run_id: x.fx.runId, key: 'written', value: 'v'.repeat(8001) }),
      ),
      c('key of 251 characters', 400, INVALID, () => ['251 characters', 'limit is 250'], (x) => x.api.post('runs/log-parameter', { run_id: x.fx.runId, key: 'k'.repeat(251), value: '1' })),
      c('param key with "!"', 400, INVALID, () => ["Invalid Param name: 'a!b'"], (x) => x.api.post('runs/log-parameter', { run_id: x.fx.runId, key: 'a!b', value: '1' })),
      c('metric key with ":"', 400, INVALID, () => ["Invalid Metric name: 'loss:1'"], (x) => x.api.post('runs/log-metric', { run_id: x.fx.runId, ...metric('loss:1', 1) })),
      c('tag key with "?"', 400, INVALID, () => ["Invalid Tag name: 'x?y'"], (x) => x.api.post('runs/set-tag', { run_id: x.fx.runId, key: 'x?y', value: '1' })),
      c('param key ".."', 400, INVALID, () => ["Invalid Param name: '..'", "'..' path segments"], (x) => x.api.post('runs/log-parameter', { run_id: x.fx.runId, key: '..', value: '1' })),
      c('param key "a/../b"', 400, INVALID, () => ["Invalid Param name: 'a/../b'", "'..' path segments"], (x) => x.api.post('runs/log-parameter', { run_id: x.fx.runId, key: 'a/../b', value: '1' })),
      c('metric key "../loss"', 400, INVALID, () => ["Invalid Metric name: '../loss'"], (x) => x.api.post('runs/log-metric', { run_id: x.fx.runId, ...metric('../loss', 1) })),
      c('param key with a leading "/"', 400, INVALID, () => ["Invalid Param name: '/abs'", "may not start with '/'"], (x) => x.api.post('runs/log-parameter', { run_id: x.fx.runId, key: '/abs', value: '1' })),
      c('tag key with a leading "/"', 400, INVALID, () => ["Invalid Tag name: '/etc/passwd'"], (x) => x.api.post('runs/set-tag', { run_id: x.fx.runId, key: '/etc/passwd', value: '1' })),
    ],
  },
  {
    group: 'deleted runs and experiments',
    cases: [
      c('log-metric to a deleted run', 400, INVALID, (x) => [x.fx.deletedRunId, "must be in the 'active' state", 'deleted'], (x) => x.api.post('runs/log-metric', { run_id: x.fx.deletedRunId, ...metric('loss', 1) })),
      c('log-batch to a deleted run', 400, INVALID, (x) => [x.fx.deletedRunId, "must be in the 'active' state"], (x) => x.api.post('runs/log-batch', writingBatch(x.fx.deletedRunId))),
      c('log-parameter to a deleted run', 400, INVALID, (x) => [x.fx.deletedRunId, "must be in the 'active' state"], (x) =>
        x.api.post('runs/log-parameter', { run_id: x.fx.deletedRunId, key: 'gamma', value: '1' }),
      ),
      c('set-tag on a deleted run', 400, INVALID, (x) => [x.fx.deletedRunId, "must be in the 'active' state"], (x) => x.api.post('runs/set-tag', { run_id: x.fx.deletedRunId, key: 'written', value: 'yes' })),
      c('delete-tag on a deleted run', 400, INVALID, (x) => [x.fx.deletedRunId, "must be in the 'active' state"], (x) => x.api.post('runs/delete-tag', { run_id: x.fx.deletedRunId, key: 'team' })),
      c('runs/update of a deleted run', 400, INVALID, (x) => [x.fx.deletedRunId, "must be in the 'active' state"], (x) => x.api.post('runs/update', { run_id: x.fx.deletedRunId, status: 'FINISHED' })),
      c('log-batch to a run of a deleted experiment', 400, INVALID, (x) => [x.fx.deletedExperimentRunId, "must be in the 'active' state"], (x) =>
        x.api.post('runs/log-batch', writingBatch(x.fx.deletedExperimentRunId)),
      ),
      c('runs/create in a deleted experiment', 400, INVALID, (x) => [`experiment ${x.fx.deletedExperimentId}`, "must be in the 'active' state", 'deleted'], (x) =>
        x.api.post('runs/create', { experiment_id: x.fx.deletedExperimentId, run_name: 'ghost' }),
      ),
      c('set-experiment-tag on a deleted experiment', 400, INVALID, (x) => [x.fx.deletedExperimentId, "must be in the 'active' state"], (x) =>
        x.api.post('experiments/set-experiment-tag', { experiment_id: x.fx.deletedExperimentId, key: 'k', value: 'v' }),
      ),
      c('restoring a run of a deleted experiment', 400, INVALID, (x) => [x.fx.deletedExperimentRunId, 'Restore the experiment first'], (x) =>
        x.api.post('runs/restore', { run_id: x.fx.deletedExperimentRunId }),
      ),
    ],
  },
  {
    group: 'searches',
    cases: [
      c('filter "metrics.rmse < abc"', 400, INVALID, () => ['Invalid filter "metrics.rmse < abc"', 'at position 15', "found 'abc'"], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], filter: 'metrics.rmse < abc' }),
      ),
      c('filter "params.alpha > 1"', 400, INVALID, () => ["comparator '>' is not supported for param 'alpha'", 'at position 13'], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], filter: 'params.alpha > 1' }),
      ),
      c('filter with OR', 400, INVALID, () => ['OR is not supported', 'at position 17'], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], filter: 'metrics.rmse > 1 OR metrics.acc < 2' }),
      ),
      c('filter on an unknown attribute', 400, INVALID, () => ["unknown attribute 'foo'", 'at position 0'], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], filter: "foo = 'x'" }),
      ),
      c('filter with an unterminated quote', 400, INVALID, () => ['unterminated string', 'at position 12'], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], filter: "tags.team = 'ml" }),
      ),
      c('experiments/search filter with an unquoted string', 400, INVALID, () => ['Invalid filter "name = x"', 'at position 7'], (x) => x.api.get('experiments/search', { filter: 'name = x' })),
      c('order_by "metrics.rmse sideways"', 400, INVALID, () => ['Invalid order_by "metrics.rmse sideways"', 'at position 13'], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], order_by: ['metrics.rmse sideways'] }),
      ),
      c('order_by on an unknown attribute', 400, INVALID, () => ["unknown attribute 'bogus'"], (x) => x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], order_by: ['bogus ASC'] })),
      c('experiments/search order_by on an unknown attribute', 400, INVALID, () => ["unknown attribute 'nope'"], (x) => x.api.get('experiments/search', { order_by: 'nope' })),
      c('runs/search max_results 0', 400, INVALID, () => ["Invalid value 0 for parameter 'max_results'", 'at most 50000'], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], max_results: 0 }),
      ),
      c('runs/search max_results 50001', 400, INVALID, () => ["Invalid value 50001 for parameter 'max_results'"], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], max_results: 50001 }),
      ),
      c('runs/search max_results "abc"', 400, INVALID, () => ["'max_results' must be an integer"], (x) => x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], max_results: 'abc' })),
      c('experiments/search max_results 0', 400, INVALID, () => ["Invalid value 0 for parameter 'max_results'"], (x) => x.api.get('experiments/search', { max_results: 0 })),
      c('experiments/search max_results 50001', 400, INVALID, () => ["Invalid value 50001 for parameter 'max_results'"], (x) => x.api.get('experiments/search', { max_results: 50001 })),
      c('runs/search with a garbage page_token', 400, INVALID, () => ["Invalid page token 'not a token!'"], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], page_token: 'not a token!' }),
      ),
      c('experiments/search with a garbage page_token', 400, INVALID, () => ["Invalid page token 'zzz'"], (x) => x.api.get('experiments/search', { page_token: 'zzz' })),
      c('get-history with a garbage page_token', 400, INVALID, () => ['Invalid page token'], (x) =>
        x.api.get('metrics/get-history', { run_id: x.fx.runId, metric_key: 'rmse', max_results: 2, page_token: 'zzz' }),
      ),
      c('runs/search with a page_token of negative offset', 400, INVALID, () => ['Invalid page token'], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], page_token: forgedToken('-1') }),
      ),
      c('runs/search with a forged page_token of offset 1e20', 400, INVALID, () => ['Invalid page token'], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], page_token: forgedToken('1e20') }),
      ),
      c('experiments/search with a forged page_token of offset 1e300', 400, INVALID, () => ['Invalid page token'], (x) => x.api.get('experiments/search', { page_token: forgedToken('1e300') })),
      c('get-history with a forged page_token of offset 2^63', 400, INVALID, () => ['Invalid page token'], (x) =>
        x.api.get('metrics/get-history', { run_id: x.fx.runId, metric_key: 'rmse', max_results: 2, page_token: forgedToken('9223372036854775807') }),
      ),
      c('runs/search with run_view_type "NOPE"', 400, INVALID, () => ['Invalid run_view_type "NOPE"'], (x) =>
        x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], run_view_type: 'NOPE' }),
      ),
    ],
  },
  {
    group: 'artifacts that are not files',
    cases: [
      c('GET of an unknown artifact', 404, MISSING, (x) => [`${x.fx.artifactDir}/model/missing.bin`, 'does not exist'], (x) => x.api.send('GET', `${PROXY}/${x.fx.artifactDir}/model/missing.bin`)),
      c('GET of an artifact directory', 400, INVALID, (x) => [`${x.fx.artifactDir}/model`, 'is a directory'], (x) => x.api.send('GET', `${PROXY}/${x.fx.artifactDir}/model`)),
      c('artifacts/list of a run with path "../../x"', 400, INVALID, () => ["Invalid artifact path '../../x'", "'..' segment"], (x) => x.api.get('artifacts/list', { run_id: x.fx.runId, path: '../../x' })),
      c('proxy listing of "../x"', 400, INVALID, () => ["Invalid artifact path '../x'"], (x) => x.api.send('GET', `${PROXY}${queryString({ path: '../x' })}`)),
    ],
  },
  {
    group: 'endpoints, limits and workspaces',
    cases: [
      c('unknown MLflow endpoint (GET)', 404, 'ENDPOINT_NOT_FOUND', () => ['No route GET /api/2.0/mlflow/runs/nope'], (x) => x.api.send('GET', `${MLFLOW}/runs/nope`)),
      c('unknown MLflow endpoint (POST)', 404, 'ENDPOINT_NOT_FOUND', () => ['No route POST /api/2.0/mlflow/experiments/nope'], (x) => x.api.post('experiments/nope', {})),
      c('unknown ajax-api endpoint', 404, 'ENDPOINT_NOT_FOUND', () => ['No route GET /ajax-api/2.0/mlflow/nope'], (x) => x.api.send('GET', '/ajax-api/2.0/mlflow/nope')),
      c('known RPC with the wrong method', 404, 'ENDPOINT_NOT_FOUND', () => ['No route PUT /api/2.0/mlflow/runs/log-batch'], (x) =>
        x.api.send('PUT', `${MLFLOW}/runs/log-batch`, JSON.stringify(writingBatch(x.fx.runId)), { 'content-type': 'application/json' }),
      ),
      c('unknown artifact-proxy endpoint', 404, 'ENDPOINT_NOT_FOUND', () => ['No route GET /api/2.0/mlflow-artifacts/nope'], (x) => x.api.send('GET', '/api/2.0/mlflow-artifacts/nope')),
      c('JSON body over the 16 MB limit', 413, INVALID, () => [/too large/i], (x) =>
        x.api.post('runs/log-batch', { run_id: x.fx.runId, params: [{ key: 'gamma', value: 'v'.repeat(17 * 1024 * 1024) }] }),
      ),
      c('experiments/search in an unknown workspace (URL prefix)', 404, MISSING, () => ["Workspace 'nope' does not exist"], (x) => x.api.get('experiments/search', {}, {}, '/workspaces/nope/api/2.0/mlflow')),
      c('log-batch in an unknown workspace (URL prefix)', 404, MISSING, () => ["Workspace 'nope' does not exist"], (x) =>
        x.api.post('runs/log-batch', writingBatch(x.fx.runId), {}, '/workspaces/nope/api/2.0/mlflow'),
      ),
      c('runs/create in an unknown workspace (X-MLflow-Workspace header)', 404, MISSING, () => ["Workspace 'nope' does not exist"], (x) =>
        x.api.post('runs/create', { experiment_id: x.fx.experimentId }, { 'x-mlflow-workspace': 'nope' }),
      ),
      c('artifact PUT in an unknown workspace', 404, MISSING, () => ["Workspace 'nope' does not exist"], (x) =>
        x.api.send('PUT', `/workspaces/nope${PROXY}/${x.fx.artifactDir}/model/planted.txt`, 'planted'),
      ),
    ],
  },
];

/** Paths that leave the artifact root (or try to), each with what the refusal must name. */
const TRAVERSALS: { path: string; reason: string; rootOnly?: boolean }[] = [
  { path: '../{x}', reason: "'..' segment" },
  { path: '%2e%2e/{x}', reason: "'..' segment" },
  { path: '%2E%2E/%2E%2E/{x}', reason: "'..' segment" },
  { path: '.%2e/{x}', reason: "'..' segment" },
  { path: 'a/%2e%2e/%2e%2e/{x}', reason: "'..' segment" },
  { path: '%252e%252e/{x}', reason: "'..' segment" },
  { path: '%25252e%25252e/{x}', reason: "'..' segment" },
  { path: '..%2f{x}', reason: "'..' segment" },
  { path: 'a\\..\\..\\{x}', reason: 'backslash' },
  { path: '..\\{x}', reason: 'backslash' },
  { path: 'a%5c..%5c..%5c{x}', reason: 'backslash' },
  { path: 'C:/{x}', reason: 'drive letter', rootOnly: true },
];

/** Strings with a NUL character, which PostgreSQL cannot store in text columns. */
const NUL_INPUTS: { name: string; send: (c: Ctx) => Promise<Reply>; stored?: { kind: 'params' | 'tags'; key: string } }[] = [
  { name: 'param value', stored: { kind: 'params', key: 'nul_param' }, send: (x) => x.api.post('runs/log-parameter', { run_id: x.fx.runId, key: 'nul_param', value: 'a\u0000b' }) },
  { name: 'tag value', stored: { kind: 'tags', key: 'nul_tag' }, send: (x) => x.api.post('runs/set-tag', { run_id: x.fx.runId, key: 'nul_tag', value: 'a\u0000b' }) },
  { name: 'run name', send: (x) => x.api.post('runs/create', { experiment_id: x.fx.experimentId, run_name: 'nul\u0000run' }) },
  { name: 'experiment name lookup', send: (x) => x.api.get('experiments/get-by-name', { experiment_name: 'nul\u0000name' }) },
  { name: 'string in a search filter', send: (x) => x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], filter: "tags.team = 'm\u0000l'" }) },
  { name: 'experiment name', send: (x) => x.api.post('experiments/create', { name: `nul\u0000experiment-${x.fx.runId.slice(0, 6)}` }) },
];

/** Valid MLflow filters with extreme or fractional numbers on integer columns: answered, never a 5xx. */
const NUMERIC_FILTERS: { name: string; send: (c: Ctx) => Promise<Reply>; list: string }[] = [
  { name: 'runs: start_time > 1.5', list: 'runs', send: (x) => x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], filter: 'attributes.start_time > 1.5' }) },
  { name: 'runs: start_time < 1e300', list: 'runs', send: (x) => x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], filter: 'attributes.start_time < 1e300' }) },
  { name: 'runs: start_time < 99999999999999999999', list: 'runs', send: (x) => x.api.post('runs/search', { experiment_ids: [x.fx.experimentId], filter: 'start_time < 99999999999999999999' }) },
  { name: 'experiments: creation_time > 0.5', list: 'experiments', send: (x) => x.api.get('experiments/search', { filter: 'creation_time > 0.5' }) },
];

// ------------------------------------------------------------------------------------------------
// Suite
// ------------------------------------------------------------------------------------------------

describe.each(BACKENDS)('bad tracking input on %s', (backend) => {
  let lapis: LapisServer;
  let api: Api;
  let fx: Fixture;
  const ctx = (): Ctx => ({ api, fx });
  /** Asserts `act` leaves the store exactly as it found it. */
  const unchanged = async (act: () => Promise<void>): Promise<void> => {
    const before = await snapshot(api, fx, lapis.dataDir);
    await act();
    expect(await snapshot(api, fx, lapis.dataDir)).toEqual(before);
  };
  /** Requests are audited in batches every 200 ms: give the batch time to be written, then check the server still answers. */
  const expectAlive = async (): Promise<void> => {
    await new Promise((r) => setTimeout(r, 500));
    const health = await api.send('GET', '/health').catch((err: unknown) => ({ status: 0, text: `the server is gone: ${String(err)}` }));
    expect(health.status, health.text).toBe(200);
  };

  beforeAll(async () => {
    lapis = await startLapis({ backend });
    api = new Api(lapis.url);
    const tag = randomBytes(4).toString('hex');
    const { experiment_id: experimentId } = await api.ok<{ experiment_id: string }>(
      api.post('experiments/create', { name: `bad-input-${tag}`, tags: [{ key: 'owner', value: 'qa' }] }),
    );
    const createRun = async (experiment: string, name: string): Promise<RunJson> =>
      (await api.ok<{ run: RunJson }>(api.post('runs/create', { experiment_id: experiment, run_name: name, start_time: T0, tags: [{ key: 'team', value: 'ml' }] }))).run;
    const run = await createRun(experimentId, 'victim');
    const runId = run.info.run_id;
    await api.ok(
      api.post('runs/log-batch', {
        run_id: runId,
        params: [
          { key: 'alpha', value: '0.5' },
          { key: 'optimizer', value: 'adam' },
        ],
        tags: [{ key: 'stage', value: 'train' }],
        metrics: [...[0.9, 0.7, 0.5, 0.45, 0.4].map((v, i) => metric('rmse', v, i, T0 + i)), ...[0.1, 0.6, 0.8].map((v, i) => metric('acc', v, i, T0 + i))],
      }),
    );
    const artifactDir = run.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '');
    await api.ok(api.send('PUT', `${PROXY}/${artifactDir}/model/weights.bin`, randomBytes(2048)));
    await api.ok(api.send('PUT', `${PROXY}/${artifactDir}/model/notes.txt`, 'trained on the usual data'));

    const deletedRun = await createRun(experimentId, 'deleted');
    await api.ok(api.post('runs/log-batch', { run_id: deletedRun.info.run_id, params: [{ key: 'alpha', value: '1' }], metrics: [metric('rmse', 2, 0)] }));
    await api.ok(api.post('runs/delete', { run_id: deletedRun.info.run_id }));

    const { experiment_id: deletedExperimentId } = await api.ok<{ experiment_id: string }>(api.post('experiments/create', { name: `bad-input-deleted-${tag}` }));
    const orphan = await createRun(deletedExperimentId, 'orphan');
    await api.ok(api.post('runs/log-metric', { run_id: orphan.info.run_id, ...metric('loss', 3, 0) }));
    await api.ok(api.post('experiments/delete', { experiment_id: deletedExperimentId }));

    // Canaries beside the artifact root: a traversal that reached them would change the file tree.
    await writeFile(join(lapis.dataDir, 'canary.txt'), 'outside the artifact root');
    if (existsSync(join(lapis.dataDir, 'artifacts'))) await writeFile(join(lapis.dataDir, 'artifacts', 'canary.txt'), 'outside the workspace');

    fx = {
      experimentId,
      runId,
      deletedRunId: deletedRun.info.run_id,
      deletedExperimentId,
      deletedExperimentRunId: orphan.info.run_id,
      artifactDir,
      runIds: [runId, deletedRun.info.run_id, orphan.info.run_id],
    };
  });

  afterEach((context) => {
    // A failure caused by a crash or a logged server error shows its cause: errors and anything that is not a log record.
    if (context.task.result?.state !== 'fail' || !lapis) return;
    const notable = lapis.logs().split('\n').filter((line) => line.trim() !== '' && (!line.startsWith('{') || /"level":(50|60)/.test(line)));
    if (notable.length > 0) console.error(`--- ${backend} server: errors and non-log output so far ---\n${notable.slice(-20).join('\n').slice(-6000)}`);
  });

  afterAll(async () => {
    api?.close();
    await lapis?.stop();
  });

  it('starts from the expected fixture', async () => {
    const { run } = await api.ok<{ run: RunJson }>(api.get('runs/get', { run_id: fx.runId }));
    expect(run.data.params).toEqual(expect.arrayContaining([{ key: 'alpha', value: '0.5' }]));
    const files = await fileTree(lapis.dataDir);
    expect(Object.keys(files).some((p) => p.endsWith(`${fx.runId}/artifacts/model/weights.bin`))).toBe(true);
  });

  for (const { group, cases } of CASES) {
    describe(group, () => {
      it.each(cases)('$name', async (bad) => {
        await unchanged(async () => {
          expectError(await bad.send(ctx()), bad.status, bad.code, bad.phrases(ctx()));
        });
      });
    });
  }

  describe('artifact path traversal', () => {
    it.each(TRAVERSALS)('PUT, GET and DELETE of "$path" are refused and write nothing', async ({ path, reason, rootOnly }) => {
      const marker = `x-${randomBytes(5).toString('hex')}`;
      const rel = path.replace('{x}', marker);
      await unchanged(async () => {
        for (const base of rootOnly ? [''] : ['', `${fx.artifactDir}/`]) {
          for (const method of ['PUT', 'GET', 'DELETE']) {
            const res = await api.send(method, `${PROXY}/${base}${rel}`, method === 'PUT' ? 'planted' : undefined);
            expectError(res, 400, INVALID, ['Invalid artifact path', reason]);
          }
        }
      });
      // Nothing named after the marker anywhere under the data dir or beside it.
      const everywhere = [...Object.keys(await fileTree(lapis.dataDir)), ...(await readdir(join(lapis.dataDir, '..')))];
      expect(everywhere.filter((p) => p.includes(marker))).toEqual([]);
    });

    it('GET of an absolute-looking path never serves a file from outside the root', async () => {
      await unchanged(async () => {
        for (const path of ['//etc/passwd', '/%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', '///etc/passwd']) {
          const res = await api.send('GET', `${PROXY}/${path}`);
          expect(res.text, path).not.toContain('root:');
          expect(res.status, `${path}: ${res.text}`).toBeGreaterThanOrEqual(400);
          expect(res.status, `${path}: ${res.text}`).toBeLessThan(500);
        }
      });
    });

    it('PUT and DELETE of an absolute-looking path are refused and touch nothing', async () => {
      // A victim we own stands in for /etc/passwd: a server that honoured the path would write or delete it.
      const victimDir = await mkdtemp(join(tmpdir(), 'lapis-abs-'));
      const victim = join(victimDir, 'victim.txt');
      await writeFile(victim, 'keep me');
      try {
        await unchanged(async () => {
          for (const path of [`/${victimDir}/planted.txt`, `${encodeURIComponent(`/${victimDir}`)}/planted.txt`]) {
            const res = await api.send('PUT', `${PROXY}/${path}`, 'planted');
            expect([res.status, res.text], `PUT ${path}`).toEqual([400, expect.stringContaining('absolute')]);
          }
          for (const path of [`/${victim}`, encodeURIComponent(`/${victim}`)]) {
            const res = await api.send('DELETE', `${PROXY}/${path}`);
            expect([res.status, res.text], `DELETE ${path}`).toEqual([400, expect.stringContaining('absolute')]);
          }
        });
        expect(await readdir(victimDir)).toEqual(['victim.txt']);
        expect(await readFile(victim, 'utf8')).toBe('keep me');
      } finally {
        await rm(victimDir, { recursive: true, force: true });
      }
    });
  });

  describe('concurrent duplicates', () => {
    it('eight simultaneous creates of one experiment name: one wins, the others get RESOURCE_ALREADY_EXISTS', async () => {
      const name = `race-${randomBytes(4).toString('hex')}`;
      const replies = await Promise.all(Array.from({ length: 8 }, () => api.post('experiments/create', { name })));
      const statuses = replies.map((r) => r.status).sort();
      expect(statuses, replies.map((r) => `${r.status} ${r.text}`).join('\n')).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
      for (const r of replies.filter((x) => x.status !== 200)) expectError(r, 400, 'RESOURCE_ALREADY_EXISTS', [`Experiment '${name}' already exists`]);
      const { experiments } = await api.ok<{ experiments: ExperimentJson[] }>(api.get('experiments/search', { view_type: 'ALL', max_results: 1000 }));
      expect(experiments.filter((e) => e.name === name)).toHaveLength(1);
    });
  });

  describe('numeric filters on integer attributes', () => {
    it.each(NUMERIC_FILTERS)('$name is answered', async ({ send, list }) => {
      await unchanged(async () => {
        const res = await send(ctx());
        expect(res.status, res.text).toBe(200);
        const items = (res.json[list] ?? []) as unknown[];
        expect(items.length, res.text).toBeGreaterThan(0);
      });
    });
  });

  // Last, with the next group: a failure here can take the server down (these strings reach the server's audit log).
  describe('NUL characters in strings', () => {
    // Either refused on every backend with a 400 naming the character, or stored and returned intact: never a 5xx.
    it.each(NUL_INPUTS)('$name', async ({ send, stored }) => {
      const before = await snapshot(api, fx, lapis.dataDir);
      const res = await send(ctx());
      // Soft, so that a crash after the answer is reported too.
      expect.soft(res.status, res.text).toBeLessThan(500);
      if (res.status >= 500) return expectAlive();
      if (res.status === 200 && stored) {
        const { run } = await api.ok<{ run: RunJson }>(api.get('runs/get', { run_id: fx.runId }));
        expect(run.data[stored.kind]).toContainEqual({ key: stored.key, value: 'a\u0000b' });
      }
      if (res.status >= 400) {
        expect(res.json.error_code, res.text).toBe(res.status === 404 ? MISSING : INVALID);
        if (res.status !== 404) expect(await snapshot(api, fx, lapis.dataDir)).toEqual(before);
      }
      await expectAlive();
    });
  });

  describe('hostile request metadata leaves the server up', () => {
    const LONG = 'w'.repeat(80);

    it('a NUL character (%00) in an artifact path', async () => {
      await unchanged(async () => {
        for (const method of ['PUT', 'GET', 'DELETE']) {
          expectError(await api.send(method, `${PROXY}/${fx.artifactDir}/%00x`, method === 'PUT' ? 'planted' : undefined), 400, INVALID, ['NUL character']);
        }
        await expectAlive();
      });
    });

    it('an 80-character X-Request-Id on a write', async () => {
      const res = await api.post('runs/set-tag', { run_id: fx.runId, key: 'request_id_probe', value: 'v' }, { 'x-request-id': 'r'.repeat(80) });
      expect(res.status, res.text).toBe(200);
      await expectAlive();
    });

    it('an 80-character workspace name in the X-MLflow-Workspace header of a write', async () => {
      await unchanged(async () => {
        const res = await api.post('runs/create', { experiment_id: fx.experimentId }, { 'x-mlflow-workspace': LONG });
        expectError(res, 404, MISSING, [`Workspace '${LONG}' does not exist`]);
        await expectAlive();
      });
    });

    it('an 80-character workspace name in the URL prefix of a write', async () => {
      await unchanged(async () => {
        const res = await api.post('runs/log-batch', writingBatch(fx.runId), {}, `/workspaces/${LONG}/api/2.0/mlflow`);
        expectError(res, 404, MISSING, [`Workspace '${LONG}' does not exist`]);
        await expectAlive();
      });
    });
  });

  it('answered no request of this suite with a 5xx', () => {
    expect(api.replies.filter((r) => r.status >= 500)).toEqual([]);
  });
});
