/**
 * Online endpoints end to end: a scikit-learn model logged and registered by the real mlflow
 * client, deployed without code (its environment built from the model's requirements, as Azure ML
 * does) and with a score.py, served by real Python scoring processes behind the router; keys,
 * traffic, limits, crashes and bad input as a client sees them.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runCli, startCli } from '../support/cli.js';
import { python, startLapis, type LapisServer } from '../support/server.js';

let server: LapisServer;
let work: string;
let key = '';

const lapis = (args: string[]) => runCli(args, { url: server.url, cwd: work, timeoutMs: 400_000 });

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${server.url}${path}`, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function score(body: unknown, opts: { key?: string | null; deployment?: string; raw?: string } = {}): Promise<{ status: number; deployment: string | null; json: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const k = opts.key === undefined ? key : opts.key;
  if (k !== null) headers.authorization = `Bearer ${k}`;
  if (opts.deployment) headers['azureml-model-deployment'] = opts.deployment;
  const res = await fetch(`${server.url}/endpoints/iris-ep/score`, { method: 'POST', headers, body: opts.raw ?? JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, deployment: res.headers.get('azureml-model-deployment'), json };
}

async function file(name: string, content: string | Record<string, unknown>): Promise<string> {
  const path = join(work, name);
  await writeFile(path, typeof content === 'string' ? content : YAML.stringify(content));
  return path;
}

const ROWS = { columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'], index: [0, 1], data: [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]] };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lapis-serving-'));
  // The no-code deployment's environment (mlflow, scikit-learn… from the model's requirements) is
  // built once per machine and reused by later runs: it is keyed by its content.
  const cache = join(homedir(), '.cache', 'lapis', 'serving-test-cache');
  server = await startLapis({ backend: 'sqlite', env: { LAPIS_PYTHON: process.env.LAPIS_TEST_PYTHON as string, LAPIS_JOB_CACHE: cache } });
  const register = await file(
    'register.py',
    [
      'import mlflow',
      'from mlflow.models import infer_signature',
      'from sklearn.datasets import load_iris',
      'from sklearn.linear_model import LogisticRegression',
      'X, y = load_iris(return_X_y=True, as_frame=True)',
      'X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]',
      'model = LogisticRegression(max_iter=500).fit(X, y)',
      'with mlflow.start_run():',
      '    mlflow.sklearn.log_model(model, name="model", signature=infer_signature(X, model.predict(X)), registered_model_name="iris-lr")',
    ].join('\n'),
  );
  const res = await python(register, [], { MLFLOW_TRACKING_URI: server.url });
  expect(res.code, res.stderr).toBe(0);
  await mkdir(join(work, 'code'), { recursive: true });
  await writeFile(
    join(work, 'code', 'score.py'),
    [
      'import json, os, time',
      'import mlflow, pandas as pd',
      'def init():',
      '    global model',
      '    model = mlflow.pyfunc.load_model(os.environ["AZUREML_MODEL_DIR"])',
      'def run(raw_data):',
      '    body = json.loads(raw_data)',
      '    if body.get("sleep"):',
      '        time.sleep(body["sleep"])',
      '    if body.get("crash"):',
      '        os._exit(9)',
      '    df = pd.DataFrame(body["input_data"]["data"], columns=body["input_data"]["columns"])',
      '    return {"predictions": model.predict(df).tolist(), "pid": os.getpid()}',
    ].join('\n'),
  );
  await mkdir(join(work, 'broken'), { recursive: true });
  await writeFile(join(work, 'broken', 'score.py'), 'def init():\n    raise RuntimeError("the model file is corrupt")\n\ndef run(raw_data):\n    return raw_data\n');
}, 600_000);

afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('deploying a registered model', () => {
  it('creates an endpoint and a no-code deployment whose environment is built from the model', async () => {
    const ep = await lapis(['online-endpoint', 'create', '-f', await file('ep.yml', { name: 'iris-ep', auth_mode: 'key' })]);
    expect(ep.code, ep.stderr).toBe(0);
    expect(ep.stdout).toContain('/endpoints/iris-ep/score');
    const res = await lapis(['online-deployment', 'create', '-f', await file('nocode.yml', { name: 'nocode', endpoint_name: 'iris-ep', model: 'azureml:iris-lr@latest' }), '--all-traffic']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain('is up');
    const keys = await api<{ primaryKey: string }>('/api/v1/online-endpoints/iris-ep/keys', { method: 'POST', body: '{}' });
    key = keys.primaryKey;
    const split = await score({ input_data: ROWS });
    expect(split).toMatchObject({ status: 200, deployment: 'nocode', json: [0, 2] });
    const mlflowShape = await score({ dataframe_records: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }] });
    expect(mlflowShape).toMatchObject({ status: 200, json: { predictions: [0] } });
  });

  it('deploys a score.py beside it; both answer alike, and traffic follows the split within ±3%', async () => {
    const spec = { name: 'script', endpoint_name: 'iris-ep', model: 'azureml:iris-lr:1', code_configuration: { code: './code', scoring_script: 'score.py' }, environment: { image: 'python:3.11-slim' }, instance_count: 2 };
    const res = await lapis(['online-deployment', 'create', '-f', await file('script.yml', spec)]);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    const pinned = await score({ input_data: ROWS }, { deployment: 'script' });
    expect(pinned.status).toBe(200);
    expect((pinned.json as { predictions: number[] }).predictions).toEqual([0, 2]);

    const update = await lapis(['online-endpoint', 'update', '--name', 'iris-ep', '--traffic', 'nocode=70 script=30']);
    expect(update.code, update.stderr).toBe(0);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) {
      const r = await score({ input_data: ROWS });
      expect(r.status).toBe(200);
      counts[r.deployment ?? '?'] = (counts[r.deployment ?? '?'] ?? 0) + 1;
    }
    expect(Math.abs((counts.nocode ?? 0) / 2000 - 0.7)).toBeLessThanOrEqual(0.03);
    expect(Math.abs((counts.script ?? 0) / 2000 - 0.3)).toBeLessThanOrEqual(0.03);
  });

  it('mirrors a share of requests to a deployment whose answers never reach the client', async () => {
    const live = await lapis(['online-endpoint', 'update', '--name', 'iris-ep', '--traffic', 'nocode=100 script=0', '--mirror-traffic', 'script=50']);
    expect(live.code, live.stderr).toBe(0);
    const requestsOf = async (d: string) => (await api<{ metrics: { requests: number } }>(`/api/v1/online-endpoints/iris-ep/deployments/${d}`)).metrics.requests;
    const before = await requestsOf('script');
    for (let i = 0; i < 300; i++) {
      const r = await score({ input_data: ROWS });
      expect(r).toMatchObject({ status: 200, deployment: 'nocode', json: [0, 2] });
    }
    await new Promise((r) => setTimeout(r, 500)); // the last copies finish after their originals
    const mirrored = (await requestsOf('script')) - before;
    expect(mirrored).toBeGreaterThan(150 - 45);
    expect(mirrored).toBeLessThan(150 + 45);
    // Azure ML's rules: one mirror, at most 50%, never a deployment that takes live traffic.
    expect((await lapis(['online-endpoint', 'update', '--name', 'iris-ep', '--mirror-traffic', 'script=60'])).stderr).toMatch(/0 to 50/);
    expect((await lapis(['online-endpoint', 'update', '--name', 'iris-ep', '--mirror-traffic', 'nocode=10'])).stderr).toMatch(/live or mirrored/);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/lapis_endpoint_requests_total\{endpoint="iris-ep",deployment="nocode",status="200"\} \d+/);
    const show = await lapis(['online-deployment', 'show', '--name', 'nocode', '--endpoint-name', 'iris-ep']);
    expect(show.stdout).toMatch(/Latency:\s+p50 [\d.]+ ms/);
    expect((await lapis(['online-endpoint', 'update', '--name', 'iris-ep', '--traffic', 'nocode=70 script=30', '--mirror-traffic', 'script=0'])).code).toBe(0);
  });

  it('invoke from the CLI uses the endpoint key and can pin a deployment', async () => {
    const req = await file('req.json', JSON.stringify({ input_data: ROWS }));
    const res = await lapis(['online-endpoint', 'invoke', '--name', 'iris-ep', '--request-file', req, '--deployment-name', 'script']);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ predictions: [0, 2] });
    expect(res.stderr).toContain('answered by deployment script');
  });
});

describe('keys, limits and failures', () => {
  it('refuses missing, wrong and rotated keys', async () => {
    expect((await score({ input_data: ROWS }, { key: null })).status).toBe(401);
    expect((await score({ input_data: ROWS }, { key: 'not-the-key' })).status).toBe(401);
    const before = await api<{ primaryKey: string; secondaryKey: string }>('/api/v1/online-endpoints/iris-ep/keys', { method: 'POST', body: '{}' });
    const res = await lapis(['online-endpoint', 'regenerate-keys', '--name', 'iris-ep', '--key-type', 'primary', '-o', 'json']);
    expect(res.code, res.stderr).toBe(0);
    const after = JSON.parse(res.stdout) as { primaryKey: string; secondaryKey: string };
    expect(after.primaryKey).not.toBe(before.primaryKey);
    expect(after.secondaryKey).toBe(before.secondaryKey);
    expect((await score({ input_data: ROWS }, { key: before.primaryKey })).status).toBe(401);
    expect((await score({ input_data: ROWS }, { key: after.secondaryKey })).status).toBe(200);
    key = after.primaryKey;
    expect((await score({ input_data: ROWS })).status).toBe(200);
  });

  it('answers 429 beyond max_concurrent_requests_per_instance', async () => {
    // script: 2 instances × 1 concurrent request each; the third request at once is refused.
    const slow = Array.from({ length: 3 }, () => score({ sleep: 1, input_data: ROWS }, { deployment: 'script' }));
    const statuses = (await Promise.all(slow)).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('a scoring process killed mid-request fails that request with a clear 5xx and is restarted', async () => {
    const crash = await score({ crash: true, input_data: ROWS }, { deployment: 'script' });
    expect(crash.status).toBe(502);
    expect(JSON.stringify(crash.json)).toMatch(/restarted/);
    const end = Date.now() + 20_000;
    let restarted = false;
    while (Date.now() < end && !restarted) {
      const d = await api<{ instances: { state: string; restarts: number }[] }>('/api/v1/online-endpoints/iris-ep/deployments/script');
      restarted = d.instances.every((i) => i.state === 'ready') && d.instances.some((i) => i.restarts === 1);
      if (!restarted) await new Promise((r) => setTimeout(r, 200));
    }
    expect(restarted).toBe(true);
    expect((await score({ input_data: ROWS }, { deployment: 'script' })).status).toBe(200);
  });

  it('a rolling update under continuous load loses no request', async () => {
    const pidsBefore = new Set((await api<{ instances: { pids: number[] }[] }>('/api/v1/online-endpoints/iris-ep/deployments/script')).instances.flatMap((i) => i.pids));
    let stop = false;
    const statuses: number[] = [];
    const load = (async () => {
      while (!stop) statuses.push((await score({ input_data: ROWS }, { deployment: 'script' })).status);
    })();
    const res = await lapis(['online-deployment', 'update', '-f', join(work, 'script.yml'), '--set', 'instance_count=3']);
    stop = true;
    await load;
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const after = await api<{ state: string; instance_count: number; instances: { pids: number[]; state: string }[] }>('/api/v1/online-endpoints/iris-ep/deployments/script');
    expect(after).toMatchObject({ state: 'Succeeded', instance_count: 3 });
    expect(after.instances.filter((i) => i.state === 'ready')).toHaveLength(3);
    expect(pidsBefore.size).toBe(2);
    expect(after.instances.flatMap((i) => i.pids).some((pid) => pidsBefore.has(pid))).toBe(false);
  });

  it('runs WORKER_COUNT scoring processes per instance; one that dies is restarted while its siblings serve', async () => {
    const spec = { name: 'pool', endpoint_name: 'iris-ep', model: 'azureml:iris-lr:1', code_configuration: { code: './code', scoring_script: 'score.py' }, environment: { image: 'python:3.11-slim' }, environment_variables: { WORKER_COUNT: '2' }, request_settings: { max_concurrent_requests_per_instance: 4 } };
    const res = await lapis(['online-deployment', 'create', '-f', await file('pool.yml', spec)]);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    type View = { instances: { state: string; pids: number[]; workers: { ready: number; total: number }; restarts: number }[] };
    const d = await api<View>('/api/v1/online-endpoints/iris-ep/deployments/pool');
    expect(d.instances).toHaveLength(1);
    expect(d.instances[0]).toMatchObject({ state: 'ready', workers: { ready: 2, total: 2 } });
    const pids = new Set(d.instances[0]?.pids);
    expect(pids.size).toBe(2);
    // Concurrent requests go to the least busy process: two slow ones at once land on both.
    const both = await Promise.all([0, 1].map(() => score({ sleep: 0.5, input_data: ROWS }, { deployment: 'pool' })));
    expect(new Set(both.map((r) => (r.json as { pid: number }).pid))).toEqual(pids);
    const show = await lapis(['online-deployment', 'show', '--name', 'pool', '--endpoint-name', 'iris-ep']);
    expect(show.stdout).toMatch(/WORKERS\s+PIDS/);
    expect(show.stdout).toContain('2/2 ready');

    // One process dies mid-request: that request gets a 502, the sibling keeps answering at once.
    const follow = startCli(['online-deployment', 'get-logs', '--name', 'pool', '--endpoint-name', 'iris-ep', '--lines', '1', '--follow'], { url: server.url, cwd: work });
    for (const end = Date.now() + 10_000; !follow.output() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    const slow = score({ sleep: 1, input_data: ROWS }, { deployment: 'pool' });
    await new Promise((r) => setTimeout(r, 100));
    const crash = await score({ crash: true, input_data: ROWS }, { deployment: 'pool' });
    expect(crash.status).toBe(502);
    const meanwhile = await score({ input_data: ROWS }, { deployment: 'pool' });
    expect(meanwhile.status).toBe(200);
    expect((await slow).status).toBe(200);
    const end = Date.now() + 20_000;
    let after = await api<View>('/api/v1/online-endpoints/iris-ep/deployments/pool');
    while (Date.now() < end && after.instances[0]?.workers.ready !== 2) {
      await new Promise((r) => setTimeout(r, 200));
      after = await api<View>('/api/v1/online-endpoints/iris-ep/deployments/pool');
    }
    expect(after.instances[0]).toMatchObject({ state: 'ready', restarts: 1, workers: { ready: 2, total: 2 } });
    expect(after.instances[0]?.pids.filter((p) => pids.has(p))).toHaveLength(1);
    const logs = await lapis(['online-deployment', 'get-logs', '--name', 'pool', '--endpoint-name', 'iris-ep']);
    expect(logs.stdout).toMatch(/\[instance 0\] \[worker [01]\] \[lapis\] the scoring process exited with code 9; restarting/);
    // --follow printed the crash and the restart as they were written, after the one line asked for.
    await follow.stop();
    const followed = follow.output().split('\n');
    const crashAt = followed.findIndex((l) => /exited with code 9; restarting/.test(l));
    expect(crashAt, follow.output()).toBeGreaterThan(0);
    expect(followed.slice(crashAt).some((l) => /\[worker [01]\] .*listening on http/.test(l))).toBe(true);

    const del = await lapis(['online-deployment', 'delete', '--name', 'pool', '--endpoint-name', 'iris-ep']);
    expect(del.code, del.stderr).toBe(0);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(after.instances[0]?.pids.filter(alive)).toEqual([]);
  });

  it('probes: a process that stops answering is taken out of routing, back when it answers, killed and restarted past liveness', async () => {
    const spec = {
      name: 'probed',
      endpoint_name: 'iris-ep',
      model: 'azureml:iris-lr:1',
      code_configuration: { code: './code', scoring_script: 'score.py' },
      environment: { image: 'python:3.11-slim' },
      readiness_probe: { initial_delay: 0, period: 1, timeout: 1, failure_threshold: 1 },
      liveness_probe: { initial_delay: 0, period: 1, timeout: 1, failure_threshold: 4 },
    };
    const res = await lapis(['online-deployment', 'create', '-f', await file('probed.yml', spec)]);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    type View = { instances: { state: string; pids: number[]; restarts: number }[] };
    const view = async () => (await api<View>('/api/v1/online-endpoints/iris-ep/deployments/probed')).instances[0];
    const until = async (what: string, ok: (i: View['instances'][number] | undefined) => boolean, ms: number) => {
      const end = Date.now() + ms;
      let i = await view();
      while (!ok(i) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 200));
        i = await view();
      }
      expect(i, what).toSatisfy(ok);
      return i;
    };
    const pid = (await view())?.pids[0] as number;
    const show = await lapis(['online-deployment', 'show', '--name', 'probed', '--endpoint-name', 'iris-ep']);
    expect(show.stdout).toMatch(/Probes:\s+liveness every 1 s from 0 s \(timeout 1 s; restart after 4 failures\); readiness every 1 s/);

    // A frozen process (SIGSTOP) fails its readiness probe: no requests go to it; it comes back when it answers again.
    process.kill(pid, 'SIGSTOP');
    await until('unready after a failed readiness probe', (i) => i?.state === 'unready', 8_000);
    const refused = await score({ input_data: ROWS }, { deployment: 'probed' });
    expect(refused.status).toBe(503);
    process.kill(pid, 'SIGCONT');
    await until('ready again, the same process', (i) => i?.state === 'ready' && i.pids[0] === pid && i.restarts === 0, 8_000);
    expect((await score({ input_data: ROWS }, { deployment: 'probed' })).status).toBe(200);

    // Frozen for good: liveness kills it after 4 failures and it is restarted.
    process.kill(pid, 'SIGSTOP');
    const after = await until('restarted after the liveness probe failed', (i) => i?.state === 'ready' && i.restarts === 1, 30_000);
    expect(after?.pids).not.toContain(pid);
    expect((await score({ input_data: ROWS }, { deployment: 'probed' })).status).toBe(200);
    const logs = await lapis(['online-deployment', 'get-logs', '--name', 'probed', '--endpoint-name', 'iris-ep']);
    expect(logs.stdout).toMatch(/readiness probe failed 1 times in a row \(GET \/ready had no answer within 1 s\)/);
    expect(logs.stdout).toMatch(/readiness probe passes again/);
    expect(logs.stdout).toMatch(/liveness probe failed 4 times in a row .*: killing the scoring process/);
    expect(logs.stdout).toMatch(/was killed by SIGKILL; restarting/);
    const del = await lapis(['online-deployment', 'delete', '--name', 'probed', '--endpoint-name', 'iris-ep']);
    expect(del.code, del.stderr).toBe(0);
  });

  it('refuses a WORKER_COUNT that is not a whole number from 1 to 64, and creates nothing', async () => {
    const spec = { name: 'badpool', endpoint_name: 'iris-ep', model: 'azureml:iris-lr:1', environment_variables: { WORKER_COUNT: 'two' } };
    const res = await lapis(['online-deployment', 'create', '-f', await file('badpool.yml', spec)]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/WORKER_COUNT must be a whole number from 1 to 64.*"two"/);
    const list = await lapis(['online-deployment', 'list', '--endpoint-name', 'iris-ep']);
    expect(list.stdout).not.toContain('badpool');
  });

  it('a score.py whose init() raises leaves the deployment Failed with its traceback', async () => {
    const spec = { name: 'broken', endpoint_name: 'iris-ep', model: 'azureml:iris-lr:1', code_configuration: { code: './broken', scoring_script: 'score.py' }, environment: { image: 'python:3.11-slim' } };
    const res = await lapis(['online-deployment', 'create', '-f', await file('broken.yml', spec)]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('the model file is corrupt');
    const show = await lapis(['online-deployment', 'show', '--name', 'broken', '--endpoint-name', 'iris-ep']);
    expect(show.stdout).toMatch(/State:\s+Failed/);
    expect(show.stdout).toContain('RuntimeError');
    const traffic = await lapis(['online-endpoint', 'update', '--name', 'iris-ep', '--traffic', 'broken=100']);
    expect(traffic.code).toBe(2);
    expect(traffic.stderr).toMatch(/Failed/);
  });

  it('refuses malformed payloads with a clear 400, and oversized bodies with 413', async () => {
    const wrongColumn = await score({ input_data: { ...ROWS, columns: ['sepal_length', 'sepal_width', 'petal_length', 'nope'] } }, { deployment: 'nocode' });
    expect(wrongColumn.status).toBe(400);
    expect(JSON.stringify(wrongColumn.json)).toContain('petal_width');
    const notJson = await score(undefined, { deployment: 'nocode', raw: 'this is not json' });
    expect(notJson.status).toBe(400);
    const wrongShape = await score({ something: 1 }, { deployment: 'nocode' });
    expect(wrongShape.status).toBe(400);
    // The server refuses by Content-Length before reading the body: announce 17 MiB, send a little,
    // and read the answer with node:http (fetch would insist on sending the whole body first).
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/endpoints/iris-ep/score`, { method: 'POST', agent: false, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': 17 * 1024 * 1024 } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', (err) => (/EPIPE|ECONNRESET|socket hang up/.test(String(err)) ? undefined : reject(err)));
      req.write('{"input_data": "');
    });
    expect(status).toBe(413);
  });
});

describe('bad input when managing endpoints', () => {
  it('refuses bad traffic, unknown models and endpoints, and deleting a deployment that takes traffic', async () => {
    const sum = await lapis(['online-endpoint', 'update', '--name', 'iris-ep', '--traffic', 'nocode=60 script=30']);
    expect(sum.code).toBe(2);
    expect(sum.stderr).toMatch(/add up to 90/);
    const unknown = await lapis(['online-endpoint', 'update', '--name', 'iris-ep', '--traffic', 'nocode=50 nobody=50']);
    expect(unknown.stderr).toMatch(/nobody/);
    const model = await lapis(['online-deployment', 'create', '-f', await file('nomodel.yml', { name: 'nomodel', endpoint_name: 'iris-ep', model: 'azureml:no-such-model:1' })]);
    expect(model.code).not.toBe(0);
    expect(model.stderr).toMatch(/no-such-model/);
    const endpoint = await lapis(['online-deployment', 'create', '-f', await file('noep.yml', { name: 'x', endpoint_name: 'no-such-ep', model: 'azureml:iris-lr:1' })]);
    expect(endpoint.code).toBe(3);
    const del = await lapis(['online-deployment', 'delete', '--name', 'nocode', '--endpoint-name', 'iris-ep']);
    expect(del.code).toBe(2);
    expect(del.stderr).toMatch(/traffic/);
    const list = await api<{ deployments: { name: string }[] }>('/api/v1/online-endpoints/iris-ep/deployments');
    expect(list.deployments.map((d) => d.name).sort()).toEqual(['broken', 'nocode', 'script']);
  });
});

describe('data collection', () => {
  const root = 'azureml://datastores/workspaceblobstore/paths/modelDataCollector/iris-ep/collect';

  it('refuses a collector that names an unknown collection or datastore, with the line', async () => {
    const base = { name: 'collect', endpoint_name: 'iris-ep', model: 'azureml:iris-lr:1' };
    const custom = await lapis(['online-deployment', 'create', '-f', await file('dc-custom.yml', { ...base, data_collector: { collections: { my_features: { enabled: 'True' } } } })]);
    expect(custom.code).toBe(2);
    expect(custom.stderr).toMatch(/dc-custom\.yml:\d+:\d+ data_collector\.collections\.my_features: unknown key 'my_features'; valid keys: request, response, model_inputs, model_outputs/);
    const store = await lapis(['online-deployment', 'create', '-f', await file('dc-store.yml', { ...base, data_collector: { collections: { request: { data: { path: 'azureml://datastores/elsewhere/paths/x' } } } } })]);
    expect(store.code).not.toBe(0);
    expect(store.stderr).toMatch(/No datastore 'elsewhere'/);
    expect((await api<{ deployments: { name: string }[] }>('/api/v1/online-endpoints/iris-ep/deployments')).deployments.map((d) => d.name)).not.toContain('collect');
  });

  it('records requests, answers, rows and predictions under one correlation id, readable from the datastore', async () => {
    const spec = {
      name: 'collect',
      endpoint_name: 'iris-ep',
      model: 'azureml:iris-lr:1',
      data_collector: { sampling_rate: 1.0, rolling_rate: 'Minute', collections: { request: { enabled: 'True' }, response: { enabled: 'True' }, model_inputs: { enabled: 'True' }, model_outputs: { enabled: 'True' } } },
    };
    const created = await lapis(['online-deployment', 'create', '-f', await file('collect.yml', spec)]);
    expect(created.code, `${created.stdout}\n${created.stderr}`).toBe(0);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/endpoints/iris-ep/score`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'azureml-model-deployment': 'collect', 'x-request-id': `collect-${i}` },
        body: JSON.stringify({ input_data: ROWS }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe(`collect-${i}`);
      ids.push(`collect-${i}`);
    }
    expect((await score({ input_data: { ...ROWS, columns: ['a', 'b', 'c', 'd'] } }, { deployment: 'collect' })).status).toBe(400);

    // Records reach storage within the collector's flush interval (2 s).
    let show = '';
    for (let waited = 0; waited < 15_000 && !/model_outputs\s+3\b/.test(show); waited += 500) {
      await new Promise((r) => setTimeout(r, 500));
      show = (await lapis(['online-deployment', 'show', '--name', 'collect', '--endpoint-name', 'iris-ep'])).stdout;
    }
    expect(show).toMatch(/Data collection:\s+100% of requests, a folder per minute/);
    expect(show).toMatch(/request\s+4\s+azureml:\/\/datastores\/workspaceblobstore\/paths\/modelDataCollector\/iris-ep\/collect\/request/);
    expect(show).toMatch(/model_inputs\s+3\b/);

    const listing = await lapis(['datastore', 'files', root]);
    expect(listing.code, listing.stderr).toBe(0);
    expect(listing.stdout).toMatch(/model_inputs\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{2}\/.+\.jsonl/);
    const dest = join(work, 'collected');
    const download = await lapis(['datastore', 'download', root, '--download-path', dest]);
    expect(download.code, download.stderr).toBe(0);
    const { readdir, readFile } = await import('node:fs/promises');
    const read = async (collection: string) => {
      const out: Record<string, unknown>[] = [];
      for (const f of await readdir(join(dest, 'collect', collection), { recursive: true, withFileTypes: true })) {
        if (f.isFile()) out.push(...(await readFile(join(f.parentPath, f.name), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
      }
      return out.sort((a, b) => String(a.correlation_id).localeCompare(String(b.correlation_id)));
    };
    const inputs = await read('model_inputs');
    expect(inputs.map((r) => r.correlation_id)).toEqual(ids);
    expect(inputs[0]?.data).toEqual(ROWS.data.map((row) => Object.fromEntries(ROWS.columns.map((c, i) => [c, row[i]]))));
    const outputs = await read('model_outputs');
    expect(outputs.map((r) => [r.correlation_id, r.data])).toEqual(ids.map((id) => [id, [{ prediction: 0 }, { prediction: 2 }]]));
    const responses = await read('response');
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 400]);
    expect((await read('request')).filter((r) => ids.includes(String(r.correlation_id))).map((r) => r.data)).toEqual(ids.map(() => ({ input_data: ROWS })));

    const del = await lapis(['online-deployment', 'delete', '--name', 'collect', '--endpoint-name', 'iris-ep']);
    expect(del.code, del.stderr).toBe(0);
  });
});
