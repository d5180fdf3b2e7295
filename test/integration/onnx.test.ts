/**
 * ONNX packaging and the in-process ONNX runtime end to end: scikit-learn models logged by the real
 * mlflow client, packaged by `lapis model package` (a real job converting with skl2onnx in the
 * model's own environment), deployed three ways — no code on a Python scoring host, a score.py,
 * and the packaged version on ONNX Runtime worker threads — and compared answer for answer.
 *
 * The crash test uses the server's test hook LAPIS_TEST_ONNX_EXIT_ON (docs/endpoints.md): a worker
 * thread that receives a body holding that text exits before answering, as a crashing native
 * library would take it down; the router's handling of the exit is the real one. The probe test
 * uses LAPIS_TEST_ONNX_HANG_ON alike: the thread blocks as a run stuck in native code would.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runCli } from '../support/cli.js';
import { python, startLapis, type LapisServer } from '../support/server.js';

const EXIT_MARKER = 'lapis-test-exit-worker';
const HANG_MARKER = 'lapis-test-hang-worker';
const COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
/** Rows spread over the three classes and beyond the training range. */
const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
  [4.3, 2.0, 1.0, 0.1],
  [7.9, 4.4, 6.9, 2.5],
  [6.0, 2.2, 5.0, 1.5],
  [5.5, 2.4, 3.7, 1.0],
  [6.3, 2.8, 5.1, 1.5],
  [0, 0, 0, 0],
  [10, -1, 8.5, 3.3],
];

let server: LapisServer;
let work: string;
let key = '';

const lapis = (args: string[]) => runCli(args, { url: server.url, cwd: work, timeoutMs: 600_000 });

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${server.url}${path}`, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function score(deployment: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${server.url}/endpoints/onnx-ep/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'azureml-model-deployment': deployment },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // kept as text
  }
  return { status: res.status, json };
}

async function file(name: string, content: string | Record<string, unknown>): Promise<string> {
  const path = join(work, name);
  await writeFile(path, typeof content === 'string' ? content : YAML.stringify(content));
  return path;
}

async function deploy(spec: Record<string, unknown>): Promise<void> {
  const res = await lapis(['online-deployment', 'create', '-f', await file(`${String(spec.name)}.yml`, { endpoint_name: 'onnx-ep', ...spec })]);
  expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
}

const split = (rows: number[][]) => ({ columns: COLUMNS, index: rows.map((_, i) => i), data: rows });

/** A deployment's ONNX Runtime runs and the requests they answered, from /metrics. */
async function modelRuns(deployment: string): Promise<{ runs: number; requests: number }> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name}\\{endpoint="onnx-ep",deployment="${deployment}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { runs: value('lapis_endpoint_model_runs_total'), requests: value('lapis_endpoint_model_run_requests_total') };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lapis-onnx-'));
  // The same cache as serving.test.ts: the models' environment (and the packaging one) is built once per machine.
  const cache = join(homedir(), '.cache', 'lapis', 'serving-test-cache');
  server = await startLapis({ backend: 'sqlite', env: { LAPIS_PYTHON: process.env.LAPIS_TEST_PYTHON as string, LAPIS_JOB_CACHE: cache, LAPIS_TEST_ONNX_EXIT_ON: EXIT_MARKER, LAPIS_TEST_ONNX_HANG_ON: HANG_MARKER } });
  const register = await file(
    'register.py',
    [
      'import mlflow',
      'from mlflow.models import infer_signature',
      'from sklearn.datasets import load_iris',
      'from sklearn.kernel_ridge import KernelRidge',
      'from sklearn.linear_model import LogisticRegression, Ridge',
      'X, y = load_iris(return_X_y=True, as_frame=True)',
      `X.columns = ${JSON.stringify(COLUMNS)}`,
      'lr = LogisticRegression(max_iter=500).fit(X, y)',
      'ridge = Ridge(alpha=0.3).fit(X, y * 1.7 + 0.25)',
      'kr = KernelRidge().fit(X, y)',
      // A churn model with a text column, encoded inside its pipeline, and text labels.
      'import numpy as np, pandas as pd',
      'from sklearn.compose import ColumnTransformer',
      'from sklearn.pipeline import Pipeline',
      'from sklearn.preprocessing import OneHotEncoder, StandardScaler',
      'rng = np.random.default_rng(0)',
      'C = pd.DataFrame({"plan": rng.choice(["basic", "pro", "team"], 300), "tenure": rng.integers(0, 60, 300), "spend": rng.normal(50, 20, 300)})',
      'label = np.where((C.plan == "pro") ^ (C.spend > 50), "churn", "stay")',
      'encode = ColumnTransformer([("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]), ("num", StandardScaler(), ["tenure", "spend"])])',
      'churn = Pipeline([("encode", encode), ("lr", LogisticRegression())]).fit(C, label)',
      'with mlflow.start_run():',
      '    mlflow.sklearn.log_model(lr, name="lr", signature=infer_signature(X, lr.predict(X)), registered_model_name="iris-lr")',
      '    mlflow.sklearn.log_model(ridge, name="ridge", input_example=X.iloc[:5], registered_model_name="iris-ridge")',
      '    mlflow.sklearn.log_model(lr, name="bare", registered_model_name="iris-bare")',
      '    mlflow.sklearn.log_model(kr, name="kr", signature=infer_signature(X, kr.predict(X)), registered_model_name="iris-kr")',
      '    mlflow.sklearn.log_model(churn, name="churn", signature=infer_signature(C, churn.predict(C)), input_example=C.iloc[:20], registered_model_name="churn")',
      '    mlflow.sklearn.log_model(churn, name="churn-bare", signature=infer_signature(C, churn.predict(C)), registered_model_name="churn-bare")',
    ].join('\n'),
  );
  const res = await python(register, [], { MLFLOW_TRACKING_URI: server.url });
  expect(res.code, res.stderr).toBe(0);
  await mkdir(join(work, 'code'), { recursive: true });
  await writeFile(
    join(work, 'code', 'score.py'),
    [
      'import json, os',
      'import mlflow, pandas as pd',
      'def init():',
      '    global model',
      '    model = mlflow.pyfunc.load_model(os.environ["AZUREML_MODEL_DIR"])',
      'def run(raw_data):',
      '    body = json.loads(raw_data)["input_data"]',
      '    return model.predict(pd.DataFrame(body["data"], columns=body["columns"])).tolist()',
    ].join('\n'),
  );
}, 600_000);

afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('lapis model package', () => {
  it('converts a scikit-learn model in a job, checks it, and registers it with lineage to its source', async () => {
    const res = await lapis(['model', 'package', 'iris-lr:1']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain('Packaged azureml:iris-lr:1 as azureml:iris-lr-onnx:1');
    // The job's log streamed: the check's figures, generated sample rows (no input example).
    const log = `${res.stdout}${res.stderr}`;
    expect(log).toMatch(/rows generated from its signature/);
    expect(log).toMatch(/predict\(\): max abs difference \S+ over 200 rows/);
    const lineage = await api<{ root: string; edges: { from: string; to: string; kind: string }[] }>('/api/v1/models/iris-lr-onnx/versions/1/lineage');
    expect(lineage.edges).toContainEqual({ from: lineage.root, to: 'model:iris-lr:1', kind: 'packaged_from' });
    expect(lineage.edges.some((e) => e.kind === 'produced_by')).toBe(true);
    const files = await api<{ files: { path: string }[] }>('/api/v1/models/iris-lr-onnx/versions/1/files');
    expect(files.files.map((f) => f.path)).toEqual(expect.arrayContaining(['MLmodel', 'model.onnx', 'requirements.txt']));
    const mlmodel = await (await fetch(`${server.url}/api/v1/models/iris-lr-onnx/versions/1/files/MLmodel`)).text();
    expect(mlmodel).toMatch(/onnx:/);
    expect(mlmodel).toContain('petal_width'); // the signature is kept

    const ridge = await lapis(['model', 'package', '--name', 'iris-ridge', '--version', '1', '--output-name', 'ridge-onnx', '--output-version', '3']);
    expect(ridge.code, `${ridge.stdout}\n${ridge.stderr}`).toBe(0);
    expect(ridge.stdout).toContain('as azureml:ridge-onnx:3');
    expect(ridge.stdout + ridge.stderr).toMatch(/input example \(5 rows\)/);
  });

  it('packages a pipeline with a text column as one ONNX input per column, loadable by mlflow.pyfunc', async () => {
    const res = await lapis(['model', 'package', 'churn:1']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain('Packaged azureml:churn:1 as azureml:churn-onnx:1');
    const log = res.stdout + res.stderr;
    expect(log).toMatch(/plan: string, tenure: long, spend: double/);
    expect(log).toMatch(/one input per column .* input example \(20 rows\)/);
    expect(log).toMatch(/predict\(\): max abs difference 0 over 20 rows/);
    const mlmodel = await (await fetch(`${server.url}/api/v1/models/churn-onnx/versions/1/files/MLmodel`)).text();
    expect(mlmodel).toMatch(/loader_module: onnx_columns/);
    expect(mlmodel).toMatch(/layout: columns/);
    // The job loads the package with mlflow.pyfunc (through onnx_columns) and predicts before it registers it.
    expect(log).toMatch(/mlflow\.pyfunc\.load_model loads it/);
  });

  it("packages a registry's version into the workspace, with lineage to it", async () => {
    for (const args of [
      ['registry', 'create', 'shared'],
      ['model', 'share', 'iris-lr:1', '--registry', 'shared', '--share-with-name', 'iris-shared', '--share-with-version', '4'],
    ]) {
      const res = await lapis(args);
      expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    }
    const res = await lapis(['model', 'package', 'azureml://registries/shared/models/iris-shared/versions/4', '--output-name', 'iris-shared-onnx']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain('Packaged azureml://registries/shared/models/iris-shared/versions/4 as azureml:iris-shared-onnx:1');
    const lineage = await lapis(['model', 'show', 'iris-shared-onnx:1', '--lineage']);
    expect(lineage.stdout).toMatch(/packaged from.*shared\/iris-shared:4/);
    const missing = await lapis(['model', 'package', 'azureml://registries/nowhere/models/iris-shared/versions/4']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/Registry 'nowhere' does not exist/);
  });

  it('refuses what it cannot package, with why, and registers nothing', async () => {
    const bare = await lapis(['model', 'package', 'iris-bare:1']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/neither a signature nor an input example/);
    const notSklearn = await lapis(['model', 'package', 'iris-lr-onnx:1']);
    expect(notSklearn.code).toBe(2);
    expect(notSklearn.stderr).toMatch(/not a scikit-learn model \(its flavors: onnx, python_function\)/);
    const noExample = await lapis(['model', 'package', 'churn-bare:1']);
    expect(noExample.code).toBe(2);
    expect(noExample.stderr).toMatch(/text columns and no input example/);
    const unknown = await lapis(['model', 'package', 'no-such-model:1']);
    expect(unknown.code).toBe(3);
    const exists = await lapis(['model', 'package', 'iris-ridge:1', '--output-name', 'ridge-onnx', '--output-version', '3']);
    expect(exists.code).toBe(2);
    expect(exists.stderr).toMatch(/already exists/);
    const noVersion = await lapis(['model', 'package', 'iris-lr']);
    expect(noVersion.code).toBe(2);
    expect(noVersion.stderr).toMatch(/Name the version/);

    // Known only once skl2onnx tries: the job fails with skl2onnx's message.
    const unsupported = await lapis(['model', 'package', 'iris-kr:1']);
    expect(unsupported.code).toBe(1);
    expect(unsupported.stdout + unsupported.stderr).toMatch(/skl2onnx cannot convert KernelRidge/);
    expect(unsupported.stdout).toMatch(/nothing was registered/);
    const kr = await fetch(`${server.url}/api/v1/models/iris-kr-onnx/versions/1`);
    expect(kr.status).toBe(404);
  });
});

describe('the ONNX runtime', () => {
  it('serves the packaged model with the predictions of the no-code and score.py deployments', async () => {
    const ep = await lapis(['online-endpoint', 'create', '-f', await file('ep.yml', { name: 'onnx-ep', auth_mode: 'key' })]);
    expect(ep.code, ep.stderr).toBe(0);
    key = (await api<{ primaryKey: string }>('/api/v1/online-endpoints/onnx-ep/keys', { method: 'POST', body: '{}' })).primaryKey;
    await deploy({ name: 'onnx', model: 'azureml:iris-lr-onnx:1', instance_count: 2, environment_variables: { WORKER_COUNT: '2' }, request_settings: { max_concurrent_requests_per_instance: 64 } });
    await deploy({ name: 'nocode', model: 'azureml:iris-lr:1' });
    await deploy({ name: 'script', model: 'azureml:iris-lr:1', code_configuration: { code: './code', scoring_script: 'score.py' }, environment: { image: 'python:3.11-slim' } });
    await deploy({ name: 'ridge-onnx', model: 'azureml:ridge-onnx:3' });
    await deploy({ name: 'ridge-nocode', model: 'azureml:iris-ridge:1' });

    const body = { input_data: split(ROWS) };
    const [onnx, nocode, script] = await Promise.all([score('onnx', body), score('nocode', body), score('script', body)]);
    expect(nocode.status).toBe(200);
    expect(onnx).toEqual(nocode);
    expect(script).toEqual(nocode);
    expect(new Set(nocode.json as number[]).size).toBe(3); // the rows reach every class

    // Small bodies are scored on the router's thread, large ones on the worker threads: both answer alike.
    const large = { input_data: split(Array.from({ length: 40 }, () => ROWS).flat()) };
    expect(JSON.stringify(large).length).toBeGreaterThan(4096);
    const [onnxLarge, nocodeLarge] = await Promise.all([score('onnx', large), score('nocode', large)]);
    expect(nocodeLarge.status).toBe(200);
    expect(onnxLarge).toEqual(nocodeLarge);

    const [ro, rn] = await Promise.all([score('ridge-onnx', body), score('ridge-nocode', body)]);
    expect(ro.status).toBe(200);
    const values = rn.json as number[];
    expect(values).toHaveLength(ROWS.length);
    (ro.json as number[]).forEach((v, i) => expect(Math.abs(v - (values[i] as number))).toBeLessThanOrEqual(1e-4));

    const show = await lapis(['online-deployment', 'show', '--name', 'onnx', '--endpoint-name', 'onnx-ep']);
    expect(show.stdout).toMatch(/Runtime:\s+ONNX Runtime, in process/);
    expect(show.stdout).toMatch(/0\s+ready\s+2\/2 ready/);
    expect(show.stdout).toMatch(/1\s+ready\s+2\/2 ready/);
  });

  it('reads every payload shape of the no-code path, and answers alike', async () => {
    const record = Object.fromEntries(COLUMNS.map((c, j) => [c, ROWS[1]?.[j]]));
    const shapes: unknown[] = [
      { input_data: ROWS },
      { input_data: Object.fromEntries(COLUMNS.map((c, j) => [c, ROWS.map((r) => r[j])])) },
      { dataframe_split: split(ROWS) },
      { dataframe_records: [record, record] },
      { instances: [record] },
      { inputs: Object.fromEntries(COLUMNS.map((c, j) => [c, ROWS.map((r) => r[j])])), params: {} },
    ];
    for (const body of shapes) {
      const [onnx, nocode] = await Promise.all([score('onnx', body), score('nocode', body)]);
      expect(nocode.status, JSON.stringify(body)).toBe(200);
      expect(onnx, JSON.stringify(body)).toEqual(nocode);
    }
  });

  // Requests that reach a session while it runs are scored together (src/serving/onnx-batch.ts, whose
  // unit tests pin the batching down); here, that many requests at once each get their own rows back.
  it('answers many concurrent requests each with its own rows, a bad one alone refused', async () => {
    const all = (await score('onnx', { input_data: ROWS })).json as number[];
    expect(all).toHaveLength(ROWS.length);
    const picks = Array.from({ length: 48 }, (_, i) => (i % 3 === 0 ? [i % ROWS.length, (i + 3) % ROWS.length] : [(i * 7) % ROWS.length]));
    // Small bodies (the router's thread) and large ones (the worker threads), Azure ML's and MLflow's shapes, all at once.
    const bodies = picks.map((rows, i) => {
      const data = i % 8 === 5 ? Array.from({ length: 30 }, () => rows.map((r) => ROWS[r] as number[])).flat() : rows.map((r) => ROWS[r] as number[]);
      return i % 2 === 0 ? { input_data: split(data) } : { dataframe_split: split(data) };
    });
    const bad = { input_data: [[5.1, 'wide', 1.4, 0.2]] };
    const before = await modelRuns('onnx');
    const answers = await Promise.all([...bodies.map((b) => score('onnx', b)), score('onnx', bad)]);
    bodies.forEach((b, i) => {
      const rows = (b.input_data ?? b.dataframe_split).data.map((row) => all[ROWS.indexOf(row)]);
      expect(answers[i], `request ${i}`).toEqual({ status: 200, json: 'input_data' in b ? rows : { predictions: rows } });
    });
    expect(answers.at(-1)?.status).toBe(400);
    // /metrics counts the runs and the requests they answered (the refused one ran nothing).
    const after = await modelRuns('onnx');
    expect(after.requests - before.requests).toBe(bodies.length);
    expect(after.runs - before.runs).toBeGreaterThanOrEqual(1);
    expect(after.runs - before.runs).toBeLessThanOrEqual(bodies.length);
    const show = await lapis(['online-deployment', 'show', '--name', 'onnx', '--endpoint-name', 'onnx-ep']);
    expect(show.stdout).toMatch(new RegExp(`Model runs:?\\s+${after.runs} \\([\\d.]+ requests per run`));
  });

  it('applies the signature: a missing column or a wrong type is a 400 that names it', async () => {
    const wrongColumn = { input_data: { ...split(ROWS), columns: ['sepal_length', 'sepal_width', 'petal_length', 'nope'] } };
    for (const d of ['onnx', 'nocode']) {
      const res = await score(d, wrongColumn);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.json)).toContain('petal_width');
    }
    const wrongType = await score('onnx', { input_data: [[5.1, 'wide', 1.4, 0.2]] });
    expect(wrongType.status).toBe(400);
    expect(JSON.stringify(wrongType.json)).toContain('sepal_width');
    const shortRow = await score('onnx', { input_data: [[5.1, 3.5]] });
    expect(shortRow.status).toBe(400);
    // Unnamed rows outside input_data: MLflow's parser refuses them for a column signature, so does the ONNX runtime.
    for (const d of ['onnx', 'nocode']) expect((await score(d, { instances: ROWS })).status).toBe(400);
    expect((await score('onnx', 'not json')).status).toBe(400);
    expect((await score('onnx', { something: 1 })).status).toBe(400);
  });

  it('serves a model with a text column on one input per column, with the no-code predictions and checks', async () => {
    await deploy({ name: 'churn-onnx', model: 'azureml:churn-onnx:1', request_settings: { max_concurrent_requests_per_instance: 64 } });
    await deploy({ name: 'churn-nocode', model: 'azureml:churn:1' });
    const logs = await lapis(['online-deployment', 'get-logs', '--name', 'churn-onnx', '--endpoint-name', 'onnx-ep']);
    expect(logs.stdout).toMatch(/one input per column \(plan string, tenure int64, spend float(32|64)\)/);
    const rows = [
      ['pro', 3, 80.5],
      ['basic', 40, 20.0],
      ['team', 12, 51.0],
      ['gold', 7, 49.0], // a plan never seen in training: the encoder ignores it, in both
      ['pro', 59, 10.25],
    ];
    const columns = ['plan', 'tenure', 'spend'];
    const bodies = [
      { input_data: { columns, index: rows.map((_, i) => i), data: rows } },
      { dataframe_records: rows.map((r) => Object.fromEntries(columns.map((c, j) => [c, r[j]]))) },
      { input_data: { plan: rows.map((r) => r[0]), tenure: rows.map((r) => r[1]), spend: rows.map((r) => r[2]) } },
    ];
    for (const body of bodies) {
      const [onnx, nocode] = await Promise.all([score('churn-onnx', body), score('churn-nocode', body)]);
      expect(nocode.status, JSON.stringify(nocode.json)).toBe(200);
      expect(onnx).toEqual(nocode);
    }
    const labels = (await score('churn-onnx', bodies[0])).json as string[];
    expect(new Set(labels)).toEqual(new Set(['churn', 'stay']));
    // One row per request, all at once: each answer is its own row's, text columns included.
    const one = await Promise.all(Array.from({ length: 30 }, (_, i) => score('churn-onnx', { input_data: { columns, index: [0], data: [rows[i % rows.length]] } })));
    one.forEach((res, i) => expect(res, `request ${i}`).toEqual({ status: 200, json: [labels[i % rows.length]] }));

    const numberForText = await score('churn-onnx', { input_data: { columns, index: [0], data: [[3, 3, 80.5]] } });
    expect(numberForText.status).toBe(400);
    expect(JSON.stringify(numberForText.json)).toMatch(/column 'plan' \(string\): got 3, not a string/);
    const textForNumber = await score('churn-onnx', { input_data: { columns, index: [0], data: [['pro', 'long', 80.5]] } });
    expect(textForNumber.status).toBe(400);
    expect(JSON.stringify(textForNumber.json)).toContain('tenure');
    const fraction = await score('churn-onnx', { input_data: { columns, index: [0], data: [['pro', 2.5, 80.5]] } });
    expect(fraction.status).toBe(400);
    expect(JSON.stringify(fraction.json)).toMatch(/not an integer/);
  });

  it('a worker thread that dies mid-request fails that request with a 502 at once and is restarted', async () => {
    const started = Date.now();
    const crash = await score('onnx', { input_data: ROWS, note: EXIT_MARKER });
    expect(crash.status).toBe(502);
    expect(JSON.stringify(crash.json)).toMatch(/worker thread .* exited with code 70.*restarted/);
    expect(Date.now() - started).toBeLessThan(2_000);
    // Other requests go on meanwhile: the other workers and instance serve them.
    expect((await score('onnx', { input_data: ROWS })).status).toBe(200);
    let restarted = false;
    for (const end = Date.now() + 10_000; Date.now() < end && !restarted; ) {
      const d = await api<{ instances: { state: string; restarts: number; workers: { ready: number; total: number } }[] }>('/api/v1/online-endpoints/onnx-ep/deployments/onnx');
      restarted = d.instances.some((i) => i.restarts === 1) && d.instances.every((i) => i.state === 'ready' && i.workers.ready === 2);
      if (!restarted) await new Promise((r) => setTimeout(r, 100));
    }
    expect(restarted).toBe(true);
    const logs = await lapis(['online-deployment', 'get-logs', '--name', 'onnx', '--endpoint-name', 'onnx-ep']);
    expect(logs.stdout).toMatch(/exited with code 70; restarting/);
  });

  it('a worker thread stuck in a run is unrouted by its readiness probe, then terminated and restarted by liveness', async () => {
    await deploy({
      name: 'probed',
      model: 'azureml:iris-lr-onnx:1',
      environment_variables: { WORKER_COUNT: '2' },
      request_settings: { request_timeout_ms: 30_000, max_concurrent_requests_per_instance: 4 },
      liveness_probe: { initial_delay: 0, period: 1, timeout: 1, failure_threshold: 3 },
      readiness_probe: { initial_delay: 0, period: 1, timeout: 1, failure_threshold: 1 },
    });
    const show = await lapis(['online-deployment', 'show', '--name', 'probed', '--endpoint-name', 'onnx-ep']);
    expect(show.stdout).toMatch(/Probes:\s+liveness every 1 s from 0 s \(timeout 1 s; restart after 3 failures\)/);
    const started = Date.now();
    const stuck = score('probed', { input_data: ROWS, note: HANG_MARKER });
    // Large bodies go to the worker threads: the other one answers meanwhile.
    const large = { input_data: split(Array.from({ length: 40 }, () => ROWS).flat()) };
    expect((await score('probed', large)).status).toBe(200);
    const stuckAnswer = await stuck;
    expect(stuckAnswer.status).toBe(502);
    expect(JSON.stringify(stuckAnswer.json)).toMatch(/worker thread .* exited .*restarted/);
    // Three missed pings a second apart, well before the request's own 30 s timeout.
    expect(Date.now() - started).toBeLessThan(15_000);
    let restarted = false;
    for (const end = Date.now() + 15_000; Date.now() < end && !restarted; ) {
      const d = await api<{ instances: { state: string; restarts: number; workers: { ready: number } }[] }>('/api/v1/online-endpoints/onnx-ep/deployments/probed');
      restarted = d.instances[0]?.restarts === 1 && d.instances[0].state === 'ready' && d.instances[0].workers.ready === 2;
      if (!restarted) await new Promise((r) => setTimeout(r, 100));
    }
    expect(restarted).toBe(true);
    expect((await score('probed', large)).status).toBe(200);
    const logs = await lapis(['online-deployment', 'get-logs', '--name', 'probed', '--endpoint-name', 'onnx-ep']);
    expect(logs.stdout).toMatch(/readiness probe failed 1 times in a row \(no answer to a ping within 1 s\): no requests are sent to this worker thread/);
    expect(logs.stdout).toMatch(/liveness probe failed 3 times in a row \(no answer to a ping within 1 s\): terminating the worker thread/);
    expect(logs.stdout).toMatch(/exited with code 1; restarting/);
    expect((await lapis(['online-deployment', 'delete', '--name', 'probed', '--endpoint-name', 'onnx-ep'])).code).toBe(0);
  });

  it('refuses an environment for an ONNX deployment: it runs no Python', async () => {
    const res = await lapis(['online-deployment', 'create', '-f', await file('env.yml', { name: 'withenv', endpoint_name: 'onnx-ep', model: 'azureml:iris-lr-onnx:1', environment: { image: 'python:3.11-slim' } })]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/no Python, so no environment/);
    const bad = await lapis(['online-deployment', 'create', '-f', await file('workers.yml', { name: 'workers', endpoint_name: 'onnx-ep', model: 'azureml:iris-lr-onnx:1', environment_variables: { WORKER_COUNT: 'many' } })]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/WORKER_COUNT/);
  });
});
