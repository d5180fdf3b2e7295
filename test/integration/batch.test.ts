/**
 * Batch endpoints end to end: a scikit-learn model logged and registered by the real mlflow client,
 * a data asset of CSV files (examples/endpoints/batch), a no-code deployment (its environment built
 * from the model's requirements) and score.py deployments; invocations are real jobs whose batch
 * driver scores with real Python workers. Predictions are checked against mlflow.pyfunc itself.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runCli } from '../support/cli.js';
import { python, startLapis, type LapisServer } from '../support/server.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/endpoints/batch/', import.meta.url));

let server: LapisServer;
let work: string;
/** mlflow.pyfunc's own predictions for every row of the example data, per file. */
let expected: Record<string, number[]>;

const lapis = (args: string[]) => runCli(args, { url: server.url, cwd: work, timeoutMs: 600_000 });

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; json: T }> {
  const res = await fetch(`${server.url}${path}`, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

async function file(name: string, content: string | Record<string, unknown>): Promise<string> {
  const path = join(work, name);
  await writeFile(path, typeof content === 'string' ? content : YAML.stringify(content));
  return path;
}

/** The job's predictions.csv, downloaded with the CLI, as rows of strings keyed by column. */
async function predictions(job: string): Promise<Record<string, string>[]> {
  const dest = join(work, 'downloads');
  const res = await lapis(['job', 'download', job, '--output-name', 'score', '--download-path', dest]);
  expect(res.code, res.stderr).toBe(0);
  const [head, ...lines] = (await readFile(join(dest, job, 'score', 'predictions.csv'), 'utf8')).trim().split('\n');
  const columns = (head as string).split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [columns[i] as string, v])));
}

const jobNames = async (): Promise<string[]> => (await api<{ jobs: { name: string }[] }>('/api/v1/jobs?max_results=1000')).json.jobs.map((j) => j.name);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lapis-batch-'));
  // The same persistent cache as the online endpoint suite: the model's environment is built once per machine.
  const cache = join(homedir(), '.cache', 'lapis', 'serving-test-cache');
  server = await startLapis({ backend: 'sqlite', env: { LAPIS_PYTHON: process.env.LAPIS_TEST_PYTHON as string, LAPIS_JOB_CACHE: cache } });
  await cp(EXAMPLES, work, { recursive: true });
  const register = await file(
    'register.py',
    [
      'import json, os, sys',
      'import mlflow, pandas as pd',
      'from mlflow.models import infer_signature',
      'from sklearn.datasets import load_iris',
      'from sklearn.linear_model import LogisticRegression',
      'X, y = load_iris(return_X_y=True, as_frame=True)',
      'X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]',
      'model = LogisticRegression(max_iter=500).fit(X, y)',
      'with mlflow.start_run():',
      '    mlflow.sklearn.log_model(model, name="model", signature=infer_signature(X, model.predict(X)), registered_model_name="iris-classifier")',
      'loaded = mlflow.pyfunc.load_model("models:/iris-classifier/1")',
      'data = sys.argv[1]',
      'print(json.dumps({f: loaded.predict(pd.read_csv(os.path.join(data, f))).tolist() for f in sorted(os.listdir(data))}))',
    ].join('\n'),
  );
  const res = await python(register, [join(work, 'data')], { MLFLOW_TRACKING_URI: server.url });
  expect(res.code, res.stderr).toBe(0);
  expected = JSON.parse(res.stdout.trim().split('\n').pop() as string) as Record<string, number[]>;
  const data = await lapis(['data', 'create', '-f', join(work, 'data.yml')]);
  expect(data.code, data.stderr).toBe(0);
  // The score.py deployments run on the host Python (the test venv has mlflow and pandas); a curated
  // environment would be built from PyPI first.
  await mkdir(join(work, 'flaky'), { recursive: true });
  await writeFile(
    join(work, 'flaky', 'score.py'),
    [
      'import os',
      'import mlflow, pandas as pd',
      'def init():',
      '    global model',
      '    model = mlflow.pyfunc.load_model(os.environ["AZUREML_MODEL_DIR"])',
      'def run(mini_batch):',
      '    out = []',
      '    for path in mini_batch:',
      '        name = os.path.basename(path)',
      '        if name in os.environ.get("FAIL_FILES", "").split(","):',
      '            raise ValueError("refusing to score " + name)',
      '        for row, p in enumerate(model.predict(pd.read_csv(path))):',
      '            out.append({"file": name, "row": row, "prediction": int(p)})',
      '    return pd.DataFrame(out)',
    ].join('\n'),
  );
  await mkdir(join(work, 'table'), { recursive: true });
  await writeFile(
    join(work, 'table', 'score.py'),
    [
      'import os',
      'import mlflow, pandas as pd',
      'def init():',
      '    global model',
      '    model = mlflow.pyfunc.load_model(os.environ["AZUREML_MODEL_DIR"])',
      'def run(mini_batch):',
      '    return pd.DataFrame({"kind": type(mini_batch).__name__, "row": mini_batch.index, "prediction": model.predict(mini_batch)})',
    ].join('\n'),
  );
}, 900_000);

afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('a batch endpoint scoring a data asset', () => {
  it('creates the endpoint and a no-code deployment (type: model with settings), the default', async () => {
    const ep = await lapis(['batch-endpoint', 'create', '-f', join(work, 'endpoint.yml')]);
    expect(ep.code, ep.stderr).toBe(0);
    expect(ep.stdout).toContain('/batch-endpoints/iris-batch/invoke');
    const dep = await lapis(['batch-deployment', 'create', '-f', join(work, 'deployment.yml')]);
    expect(dep.code, dep.stderr).toBe(0);
    expect(dep.stdout).toContain('(the default)');
    const show = await lapis(['batch-deployment', 'show', '--name', 'mlflow', '--endpoint-name', 'iris-batch']);
    expect(show.stdout).toMatch(/Mini-batch size:\s+1/);
    expect(show.stdout).toMatch(/Compute:\s+local, 1 instance\(s\) × 2 worker\(s\)/);
  });

  it('invoke --stream runs a job whose predictions.csv equals mlflow.pyfunc, row by row, with the source file', async () => {
    const res = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', '--input', 'azureml:iris-unlabeled:1', '--job-name', 'batch_nocode_1', '--stream']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toMatch(/mini-batch \d\/3 done/);
    expect(res.stdout).toContain('Scored 3 mini-batches (3 files)');
    expect(res.stdout).toContain('3/3 mini-batches finished (0 failed');
    const rows = await predictions('batch_nocode_1');
    const files = Object.keys(expected).sort();
    expect(rows.map((r) => r.file)).toEqual(files.flatMap((f) => (expected[f] as number[]).map(() => f)));
    expect(rows.map((r) => Number(r.prediction))).toEqual(files.flatMap((f) => expected[f] as number[]));
    expect(rows.map((r) => Number(r.row))).toEqual(files.flatMap((f) => (expected[f] as number[]).map((_, i) => i)));
    expect(new Set(rows.map((r) => r.prediction)).size).toBeGreaterThan(1);
  });

  it('is a job like any other: listed, shown with its progress, an MLflow run with the progress metrics', async () => {
    const list = await lapis(['job', 'list']);
    expect(list.stdout).toContain('batch_nocode_1');
    const show = await lapis(['job', 'show', 'batch_nocode_1']);
    expect(show.stdout).toMatch(/Status:\s+Completed/);
    expect(show.stdout).toMatch(/Progress:\s+3\/3 mini-batches finished \(0 failed, 0 items failed\)/);
    const run = await api<{ run: { data: { metrics: { key: string; value: number }[] }; info: { status: string } } }>('/api/2.0/mlflow/runs/get?run_id=batch_nocode_1');
    const metrics = Object.fromEntries(run.json.run.data.metrics.map((m) => [m.key, m.value]));
    expect(metrics).toMatchObject({ mini_batches_total: 3, mini_batches_succeeded: 3, mini_batches_failed: 0, items_total: 3, items_failed: 0, rows_written: 30 });
    expect(run.json.run.info.status).toBe('FINISHED');
    const jobs = await lapis(['batch-endpoint', 'list-jobs', '--name', 'iris-batch']);
    expect(jobs.stdout).toMatch(/batch_nocode_1\s+mlflow\s+Completed/);
  });

  it('scores the rows of a CSV file (uri_file), over HTTP, and writes the output to a datastore path', async () => {
    const upload = await lapis(['data', 'create', '-f', await file('one.yml', { name: 'iris-one', type: 'uri_file', path: './data/part-2.csv' })]);
    expect(upload.code, upload.stderr).toBe(0);
    const res = await api<{ name: string; status: string }>('/batch-endpoints/iris-batch/invoke', {
      method: 'POST',
      body: JSON.stringify({ input: 'azureml:iris-one:1', mini_batch_size: 4, output_path: 'azureml://datastores/workspaceblobstore/paths/batch/one', job_name: 'batch_rows_1' }),
    });
    expect(res.status).toBe(201);
    const end = Date.now() + 300_000;
    let status = res.json.status;
    while (!['Completed', 'Failed', 'Canceled'].includes(status) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 500));
      status = (await api<{ status: string }>('/api/v1/jobs/batch_rows_1')).json.status;
    }
    const logs = await lapis(['job', 'logs', 'batch_rows_1']);
    expect(status, logs.stdout).toBe('Completed');
    expect(logs.stdout).toContain('rows 8-9 of part-2.csv'); // 10 rows in mini-batches of 4
    const rows = await predictions('batch_rows_1');
    expect(rows.map((r) => Number(r.prediction))).toEqual(expected['part-2.csv']);
    const stored = await api<{ files: { path: string }[] }>('/api/v1/datastores/workspaceblobstore/files?path=batch/one');
    expect(stored.json.files.map((f) => f.path)).toContain('predictions.csv');
  });

  it('scores the rows of an mltable data asset (a pattern over Latin-1 CSV files, read_delimited options, keep_columns) as mlflow.pyfunc does', async () => {
    const data = await lapis(['data', 'create', '-f', join(work, 'mltable-data.yml')]);
    expect(data.code, data.stderr).toBe(0);
    const res = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', '--input', 'azureml:iris-table:1', '--mini-batch-size', '8', '--job-name', 'batch_table_1', '--stream']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain('mini-batch 4/4 done');
    expect(res.stdout).toContain('rows 8-15 of exports/2024-01.csv, exports/2024-02.csv');
    expect(res.stdout).toContain('Scored 4 mini-batches (30 rows)');
    const rows = await predictions('batch_table_1');
    const files = Object.keys(expected).sort();
    expect(rows.map((r) => Number(r.prediction))).toEqual(files.flatMap((f) => expected[f] as number[]));
    expect(rows.map((r) => r.file)).toEqual(['01', '02', '03'].flatMap((m) => Array<string>(10).fill(`exports/2024-${m}.csv`)));
    expect(rows.map((r) => Number(r.row))).toEqual([...Array(30).keys()]);
    const show = await lapis(['job', 'show', 'batch_table_1']);
    expect(show.stdout).toMatch(/Inputs:[\s\S]*data\s+mltable azureml:iris-table:1/);
    expect(show.stdout).toMatch(/Predictions:\s+predictions.csv in output score \(30 rows\): lapis job download batch_table_1 --output-name score/);
  });

  it('scores an mltable folder on a datastore path, given directly or through a data asset that points at it', async () => {
    // A job copies the mltable asset's folder to the datastore, as a data-preparation job would.
    const copy = await lapis(['job', 'create', '-f', await file('to-datastore.yml', {
        type: 'command',
        command: 'cp -r ${{inputs.table}}/. ${{outputs.table}}',
        inputs: { table: { type: 'uri_folder', path: 'azureml:iris-table:1' } },
        outputs: { table: { type: 'uri_folder', path: 'azureml://datastores/workspaceblobstore/paths/tables/iris' } },
        environment: { image: 'python:3.11-slim' },
      }), '--stream', '--name', 'table_to_datastore_1']);
    expect(copy.code, `${copy.stdout}\n${copy.stderr}`).toBe(0);
    const uri = 'azureml://datastores/workspaceblobstore/paths/tables/iris';
    const direct = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', '--input', uri, '--input-type', 'mltable', '--mini-batch-size', '8', '--job-name', 'batch_ds_table_1', '--stream']);
    expect(direct.code, `${direct.stdout}\n${direct.stderr}`).toBe(0);
    expect(direct.stdout).toContain('Scored 4 mini-batches (30 rows)');
    const rows = await predictions('batch_ds_table_1');
    expect(rows.map((r) => Number(r.prediction))).toEqual(Object.keys(expected).sort().flatMap((f) => expected[f] as number[]));

    const asset = await lapis(['data', 'create', '-f', await file('ds-table.yml', { name: 'iris-ds-table', version: '1', type: 'mltable', path: uri })]);
    expect(asset.code, asset.stderr).toBe(0);
    const viaAsset = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', '--input', 'azureml:iris-ds-table:1', '--job-name', 'batch_ds_table_2', '--stream']);
    expect(viaAsset.code, `${viaAsset.stdout}\n${viaAsset.stderr}`).toBe(0);
    expect((await predictions('batch_ds_table_2')).map((r) => r.prediction)).toEqual(rows.map((r) => r.prediction));

    // A datastore folder without an MLTable file is refused before any job exists.
    const bare = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', '--input', 'azureml://datastores/workspaceblobstore/paths/batch/one', '--input-type', 'mltable', '--job-name', 'batch_ds_table_3']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('azureml://datastores/workspaceblobstore/paths/batch/one has no MLTable file at its top');
    expect((await api('/api/v1/jobs/batch_ds_table_3')).status).toBe(404);
  });
});

describe('a score.py deployment and the error threshold', () => {
  it('gives a score.py the rows of a local mltable folder as DataFrames (--input-type mltable)', async () => {
    const spec = { name: 'table', endpoint_name: 'iris-batch', model: 'azureml:iris-classifier:1', code_configuration: { code: './table', scoring_script: 'score.py' }, environment: { image: 'python:3.11-slim' }, mini_batch_size: 7 };
    const dep = await lapis(['batch-deployment', 'create', '-f', await file('table.yml', spec)]);
    expect(dep.code, dep.stderr).toBe(0);
    const res = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', '--deployment-name', 'table', '--input', './mltable', '--input-type', 'mltable', '--job-name', 'batch_table_script_1', '--stream']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain('Scored 5 mini-batches (30 rows)');
    const rows = await predictions('batch_table_script_1');
    expect(new Set(rows.map((r) => r.kind))).toEqual(new Set(['DataFrame']));
    expect(rows.map((r) => Number(r.row))).toEqual([...Array(30).keys()]);
    expect(rows.map((r) => Number(r.prediction))).toEqual(Object.keys(expected).sort().flatMap((f) => expected[f] as number[]));
  });

  const scriptSpec = (name: string, threshold: number) => ({
    name,
    endpoint_name: 'iris-batch',
    model: 'azureml:iris-classifier:1',
    code_configuration: { code: './flaky', scoring_script: 'score.py' },
    environment: { image: 'python:3.11-slim' },
    mini_batch_size: 1,
    max_concurrency_per_instance: 2,
    error_threshold: threshold,
    retry_settings: { max_retries: 1, timeout: 60 },
    environment_variables: { FAIL_FILES: 'part-3.csv' },
  });

  it('within the threshold: Completed, the failed mini-batch retried and reported, the other rows written', async () => {
    const dep = await lapis(['batch-deployment', 'create', '-f', await file('tolerant.yml', scriptSpec('tolerant', 1))]);
    expect(dep.code, dep.stderr).toBe(0);
    const res = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', '--deployment-name', 'tolerant', '--input', 'azureml:iris-unlabeled:1', '--job-name', 'batch_tolerant_1', '--stream']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain('mini-batch 3 (files part-3.csv), attempt 1/2 failed: ValueError: refusing to score part-3.csv; retrying');
    expect(res.stdout).toContain('1 item failed, within error_threshold 1');
    const rows = await predictions('batch_tolerant_1');
    expect(rows.map((r) => Number(r.prediction))).toEqual([...(expected['part-1.csv'] as number[]), ...(expected['part-2.csv'] as number[])]);
    const show = await lapis(['job', 'show', 'batch_tolerant_1']);
    expect(show.stdout).toMatch(/Progress:\s+3\/3 mini-batches finished \(1 failed, 1 item failed\)/);
  });

  it('beyond the threshold: Failed, saying which mini-batch failed and why, keeping the predictions that succeeded', async () => {
    const dep = await lapis(['batch-deployment', 'create', '-f', await file('strict.yml', scriptSpec('strict', 0))]);
    expect(dep.code, dep.stderr).toBe(0);
    const res = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', '--deployment-name', 'strict', '--input', 'azureml:iris-unlabeled:1', '--job-name', 'batch_strict_1', '--stream']);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('Kept: the 2 mini-batches that succeeded (20 rows) in predictions.csv of output score, a partial output');
    expect(res.stdout).toContain('predictions: predictions.csv in output score (20 rows; partial: the 2 mini-batch(es) that succeeded)');
    const show = await lapis(['job', 'show', 'batch_strict_1']);
    expect(show.stdout).toMatch(/Status:\s+Failed/);
    // The job's error is the driver's summary, not just an exit code.
    expect(show.stdout).toMatch(/Error:\s+Batch scoring failed: 1 item failed, more than error_threshold 0: mini-batch 3 \(files part-3.csv\): ValueError: refusing to score part-3.csv\. Kept: the 2 mini-batches that succeeded \(20 rows\) in predictions.csv of output score, a partial output\./);
    expect(show.stdout).toMatch(/Predictions:\s+predictions.csv in output score \(20 rows; partial: the 2 mini-batch\(es\) that succeeded\): lapis job download batch_strict_1 --output-name score/);
    const rows = await predictions('batch_strict_1');
    expect(rows.map((r) => Number(r.prediction))).toEqual([...(expected['part-1.csv'] as number[]), ...(expected['part-2.csv'] as number[])]);
    const jobs = await lapis(['batch-endpoint', 'list-jobs', '--name', 'iris-batch']);
    expect(jobs.stdout).toMatch(/batch_strict_1\s+strict\s+Failed\s+.*predictions.csv in output score \(20 rows; partial/);
  });
});

describe('bad input is refused and creates nothing', () => {
  it('refuses bad YAML with line numbers, and unknown references', async () => {
    const before = await api<{ deployments: unknown[] }>('/api/v1/batch-endpoints/iris-batch/deployments');
    const yaml = await file('bad.yml', 'name: bad\nendpoint_name: iris-batch\nmodel: azureml:iris-classifier:1\nmini_batch_size: 0\noutput_action: append_rows\nsettings:\n  error_threshold: 3\nerror_threshold: 2\n');
    const res = await lapis(['batch-deployment', 'create', '-f', yaml]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/bad\.yml:4:\d+ mini_batch_size/);
    expect(res.stderr).toMatch(/bad\.yml:5:\d+ output_action: must be one of append_row, summary_only/);
    expect(res.stderr).toMatch(/error_threshold is also given at the top level/);
    const model = await lapis(['batch-deployment', 'create', '-f', await file('nomodel.yml', { name: 'nomodel', endpoint_name: 'iris-batch', model: 'azureml:no-such-model:1' })]);
    expect(model.code).not.toBe(0);
    expect(model.stderr).toContain('no-such-model');
    const env = await lapis(['batch-deployment', 'create', '-f', await file('noenv.yml', { name: 'noenv', endpoint_name: 'iris-batch', model: 'azureml:iris-classifier:1', environment: 'azureml:no-such-env:1' })]);
    expect(env.code).not.toBe(0);
    expect(env.stderr).toContain('no-such-env');
    const noScript = await lapis(['batch-deployment', 'create', '-f', await file('noscript.yml', { ...{ name: 'noscript', endpoint_name: 'iris-batch', model: 'azureml:iris-classifier:1' }, code_configuration: { code: './flaky', scoring_script: 'missing.py' }, environment: { image: 'python:3.11-slim' } })]);
    expect(noScript.code).toBe(2);
    expect(noScript.stderr).toContain("'missing.py' is not in code");
    const endpoint = await lapis(['batch-deployment', 'create', '-f', await file('noep.yml', { name: 'x', endpoint_name: 'no-such-ep', model: 'azureml:iris-classifier:1' })]);
    expect(endpoint.code).toBe(3);
    const after = await api<{ deployments: unknown[] }>('/api/v1/batch-endpoints/iris-batch/deployments');
    expect(after.json.deployments).toHaveLength(before.json.deployments.length);
  });

  it('refuses bad invocations before any job exists', async () => {
    const before = await jobNames();
    const cases: [string[], RegExp][] = [
      [['--input', 'azureml:no-such-data:1'], /no-such-data/],
      [['--input', 'azureml:iris-unlabeled:1', '--deployment-name', 'nobody'], /no deployment 'nobody'/],
      [['--input', 'azureml:iris-unlabeled:1', '--output-path', 's3://bucket/x'], /output_path must be a datastore path/],
      [['--input', 'azureml:iris-unlabeled:1', '--input-type', 'table'], /Allowed choices are uri_folder, uri_file, mltable/],
      [['--input', 'azureml:iris-unlabeled:1', '--input-type', 'mltable'], /azureml:iris-unlabeled:1 has no MLTable file at its top/],
      [['--input', './data', '--input-type', 'mltable'], /needs a folder with an MLTable file at its top/],
      [['--input', 'azureml:iris-unlabeled:1', '--job-name', 'batch_nocode_1'], /already exists/],
    ];
    for (const [args, message] of cases) {
      const res = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', ...args]);
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stderr, args.join(' ')).toMatch(message);
    }
    const unknown = await api<{ message: string }>('/batch-endpoints/no-such-ep/invoke', { method: 'POST', body: JSON.stringify({ input: 'azureml:iris-unlabeled:1' }) });
    expect(unknown.status).toBe(404);
    const badType = await api<{ error: { message: string } }>('/api/v1/batch-endpoints/iris-batch/invoke', { method: 'POST', body: JSON.stringify({ input: 'azureml:iris-unlabeled:1', input_type: 'table' }) });
    expect(badType.status).toBe(400);
    expect(badType.json.error.message).toContain('input_type must be uri_folder');
    expect(await jobNames()).toEqual(before);
  });

  it('refuses an MLTable it cannot read, naming each feature, before any job exists', async () => {
    const before = await jobNames();
    await mkdir(join(work, 'bad-table'), { recursive: true });
    await writeFile(join(work, 'bad-table', 'a.csv'), 'x\n1\n');
    await writeFile(join(work, 'bad-table', 'MLTable'), 'paths:\n  - file: https://example.com/x.csv\n  - pattern: ./*.tsv\ntransformations:\n  - read_delimited: {delimiter: ","}\n  - filter: \'col("x") > 1\'\n');
    // A valid MLTable for Azure ML, so a valid data asset: only scoring it is refused.
    const asset = await lapis(['data', 'create', '-f', await file('bad-table.yml', { name: 'bad-table', type: 'mltable', path: './bad-table' })]);
    expect(asset.code, asset.stderr).toBe(0);
    const res = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', '--input', 'azureml:bad-table:1']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('azureml:bad-table:1/MLTable cannot be scored by a batch endpoint (3 problems)');
    expect(res.stderr).toContain("paths[0].file 'https://example.com/x.csv' is a URI");
    expect(res.stderr).toContain("paths[1].pattern './*.tsv' matches no file (the files beside the MLTable file: a.csv)");
    expect(res.stderr).toContain('transformations[1]: filter is not supported: batch endpoints read read_delimited, read_parquet, read_json_lines');
    await writeFile(join(work, 'bad-table', 'MLTable'), 'paths:\n  - file: a.csv\ntransformations:\n  - read_delimited:\n      header: yes\n');
    const local = await lapis(['batch-endpoint', 'invoke', '--name', 'iris-batch', '--input', './bad-table', '--input-type', 'mltable']);
    expect(local.code).toBe(2);
    expect(local.stderr).toMatch(/bad-table\/MLTable:5:\d+ transformations\[0\]\.read_delimited\.header: must be one of all_files_same_headers, from_first_file, no_header, all_files_different_headers/);
    expect(await jobNames()).toEqual(before);
  });

  it('keeps the default deployment until another takes its place', async () => {
    const del = await lapis(['batch-deployment', 'delete', '--name', 'mlflow', '--endpoint-name', 'iris-batch']);
    expect(del.code).toBe(2);
    expect(del.stderr).toContain('--set-default');
    const moved = await lapis(['batch-deployment', 'update', '-f', join(work, 'tolerant.yml'), '--set-default']);
    expect(moved.code, moved.stderr).toBe(0);
    expect((await lapis(['batch-deployment', 'delete', '--name', 'mlflow', '--endpoint-name', 'iris-batch'])).code).toBe(0);
    const show = await lapis(['batch-endpoint', 'show', '--name', 'iris-batch']);
    expect(show.stdout).toMatch(/Default deployment:\s+tolerant/);
  });
});
