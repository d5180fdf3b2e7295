/**
 * The `lapis` CLI against a real server: data is seeded through the MLflow REST API with plain
 * fetch, then the built CLI (`dist/cli/lapis.js`) runs as a subprocess, exactly as a user or a
 * script runs it; stdout, stderr and exit codes are asserted.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runCli, type CliResult } from '../support/cli.js';
import { startLapis, type LapisServer } from '../support/server.js';

const T0 = 1_700_000_000_000; // 2023-11-14 22:13:20 UTC

let server: LapisServer;
let work: string;


/** Runs `lapis <args>` against the test server (TZ=UTC so local times are predictable). */
function lapis(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { url: server.url, cwd: work, env });
}

/** Runs the CLI, expects exit 0 and parses its JSON output. */
async function lapisJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  const res = await lapis([...args, '-o', 'json'], env);
  expect(res.stderr, `lapis ${args.join(' ')}`).not.toMatch(/^error:/m);
  expect(res.code).toBe(0);
  return JSON.parse(res.stdout) as T;
}

async function mlflow<T = Record<string, unknown>>(path: string, body: unknown, workspace?: string): Promise<T> {
  const prefix = workspace ? `/workspaces/${workspace}` : '';
  const res = await fetch(`${server.url}${prefix}/api/2.0/mlflow/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function createExperiment(name: string, workspace?: string): Promise<string> {
  return (await mlflow<{ experiment_id: string }>('experiments/create', { name }, workspace)).experiment_id;
}

interface SeededRun {
  id: string;
  experimentId: string;
}

async function createRun(
  experimentId: string,
  name: string,
  opts: { workspace?: string; start?: number; params?: Record<string, string>; metrics?: Record<string, number>; durationMs?: number } = {},
): Promise<SeededRun> {
  const start = opts.start ?? T0;
  const created = await mlflow<{ run: { info: { run_id: string } } }>('runs/create', { experiment_id: experimentId, run_name: name, start_time: start }, opts.workspace);
  const id = created.run.info.run_id;
  await mlflow(
    'runs/log-batch',
    {
      run_id: id,
      params: Object.entries(opts.params ?? {}).map(([key, value]) => ({ key, value })),
      metrics: Object.entries(opts.metrics ?? {}).map(([key, value]) => ({ key, value, timestamp: start + 1000, step: 0 })),
    },
    opts.workspace,
  );
  if (opts.durationMs !== undefined) await mlflow('runs/update', { run_id: id, status: 'FINISHED', end_time: start + opts.durationMs }, opts.workspace);
  return { id, experimentId };
}

async function putArtifact(run: SeededRun, path: string, content: Buffer): Promise<void> {
  const url = `${server.url}/api/2.0/mlflow-artifacts/artifacts/${run.experimentId}/${run.id}/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`;
  const res = await fetch(url, { method: 'PUT', body: content });
  if (!res.ok) throw new Error(`PUT ${path} → ${res.status}: ${await res.text()}`);
}

/** A port nothing listens on. */
async function deadUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** Every file below `dir`, as sorted `/`-separated relative paths. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

// Seeded data
let experimentId: string;
let runA: SeededRun; // alpha 0.1, rmse 0.9, no artifacts
let runB: SeededRun; // alpha 0.5, rmse 0.7, artifacts, a dataset
let runC: SeededRun; // alpha 0.5, rmse 0.6, still running
let pagingRuns: string[];
let defaultRun: SeededRun;
const artifacts: Record<string, Buffer> = {
  'model/MLmodel': Buffer.from('flavors:\n  python_function: {}\n'),
  'model/data/weights.bin': randomBytes(3 * 1024 * 1024 + 17),
  'model/data/deep/notes with space.txt': Buffer.from('nested'),
  'metrics.json': Buffer.from('{"rmse": 0.7}'),
};

beforeAll(async () => {
  server = await startLapis({ backend: 'sqlite' });
  work = await mkdtemp(join(tmpdir(), 'lapis-cli-'));
  experimentId = await createExperiment('cli-exp');
  runA = await createRun(experimentId, 'run-a', { params: { alpha: '0.1' }, metrics: { rmse: 0.9 }, durationMs: 5_000 });
  runB = await createRun(experimentId, 'run-b', { start: T0 + 60_000, params: { alpha: '0.5', l1_ratio: '0.2' }, metrics: { rmse: 0.7, r2: 0.41 }, durationMs: 72_000 });
  runC = await createRun(experimentId, 'run-c', { start: T0 + 120_000, params: { alpha: '0.5' }, metrics: { rmse: 0.6 } });
  await mlflow('runs/log-inputs', {
    run_id: runB.id,
    datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: { name: 'wine-quality', digest: 'abc123', source_type: 'local', source: '/data/wine.csv' } }],
  });
  for (const [path, content] of Object.entries(artifacts)) await putArtifact(runB, path, content);

  const paging = await createExperiment('paging');
  pagingRuns = [];
  for (let i = 0; i < 5; i++) pagingRuns.push((await createRun(paging, `p-${i}`, { start: T0 + i * 1000 })).id);

  defaultRun = await createRun('0', 'in-default');
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('lapis workspace', () => {
  it('creates, lists and shows workspaces', async () => {
    const created = await lapisJson<{ name: string; description: string }>(['workspace', 'create', 'dev', '--description', 'Development']);
    expect(created).toMatchObject({ name: 'dev', description: 'Development' });

    const list = await lapisJson<{ name: string }[]>(['workspace', 'list']);
    expect(list.map((w) => w.name).sort()).toEqual(['default', 'dev']);

    const table = await lapis(['workspace', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+DESCRIPTION\s+CREATED\n/);
    expect(table.stdout).toMatch(/^dev\s+Development\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);

    const shown = await lapis(['workspace', 'show', 'dev']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('Workspace dev');
    expect(shown.stdout).toMatch(/Description:\s+Development/);
  });

  it('reports a duplicate as bad input and an unknown workspace as not found', async () => {
    const dup = await lapis(['workspace', 'create', 'dev']);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toBe("error: Workspace 'dev' already exists.\n");

    const missing = await lapis(['workspace', 'show', 'nope']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^error: Workspace 'nope' does not exist/);
  });
});

describe('lapis experiment', () => {
  it('lists experiments as the API returns them, and as a table', async () => {
    const api = (await (await fetch(`${server.url}/api/v1/experiments`)).json()) as { experiments: unknown[] };
    const list = await lapisJson<{ name: string }[]>(['experiment', 'list']);
    expect(list).toEqual(api.experiments);
    expect(list.map((e) => e.name)).toEqual(expect.arrayContaining(['Default', 'cli-exp', 'paging']));

    const table = await lapis(['experiment', 'list', '--order-by', 'name ASC']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+CREATED\s+LAST UPDATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/)[1])).toEqual(['Default', 'cli-exp', 'paging']);
  });

  it('filters, and says so when nothing matches', async () => {
    const found = await lapisJson<{ name: string }[]>(['experiment', 'list', '--filter', "name = 'cli-exp'"]);
    expect(found.map((e) => e.name)).toEqual(['cli-exp']);
    const none = await lapis(['experiment', 'list', '--filter', "name = 'nothing'"]);
    expect(none).toMatchObject({ code: 0, stdout: 'No experiments match the filter.\n' });
  });

  it('shows one experiment by id or by name', async () => {
    const byName = await lapisJson<{ experiment_id: string }>(['experiment', 'show', 'cli-exp']);
    const byId = await lapisJson<{ name: string }>(['experiment', 'show', experimentId]);
    expect(byName.experiment_id).toBe(experimentId);
    expect(byId).toEqual(byName);
    const table = await lapis(['experiment', 'show', 'cli-exp']);
    expect(table.stdout).toContain(`Experiment ${experimentId} (cli-exp)`);
    expect(table.stdout).toMatch(/Artifact location:\s+mlflow-artifacts:\//);

    const missing = await lapis(['experiment', 'show', 'no-such-experiment']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^error: .*no-such-experiment/);
  });
});

describe('lapis run list', () => {
  const filter = "metrics.rmse < 0.8 and params.alpha = '0.5'";

  it('searches with a filter and order-by, returning the API objects', async () => {
    const runs = await lapisJson<{ info: { run_id: string } }[]>(['run', 'list', '--experiment', 'cli-exp', '--filter', filter, '--order-by', 'metrics.rmse ASC']);
    expect(runs.map((r) => r.info.run_id)).toEqual([runC.id, runB.id]);

    const api = await fetch(`${server.url}/api/v1/runs/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ experiments: [experimentId], filter, order_by: ['metrics.rmse ASC'] }),
    });
    expect(runs).toEqual(((await api.json()) as { runs: unknown[] }).runs);
  });

  it('shows the metrics and params named in the filter and order-by as table columns', async () => {
    const res = await lapis(['run', 'list', '--experiment', experimentId, '--filter', filter, '--order-by', 'metrics.r2 DESC']);
    expect(res.code).toBe(0);
    const [head, ...rows] = res.stdout.trimEnd().split('\n');
    expect(head?.split(/\s{2,}/)).toEqual(['RUN ID', 'NAME', 'STATUS', 'START TIME', 'DURATION', 'metrics.rmse', 'params.alpha', 'metrics.r2']);
    expect(rows).toHaveLength(2);
    expect(rows[0]?.split(/\s{2,}/)).toEqual([runB.id, 'run-b', 'FINISHED', '2023-11-14 22:14:20', '1m 12s', '0.7', '0.5', '0.41']);
    expect(rows[1]?.split(/\s{2,}/)).toEqual([runC.id, 'run-c', 'RUNNING', '2023-11-14 22:15:20', '-', '0.6', '0.5', '-']);
  });

  it('says so when no run matches', async () => {
    const res = await lapis(['run', 'list', '--experiment', 'cli-exp', '--filter', 'metrics.rmse > 100']);
    expect(res).toMatchObject({ code: 0, stdout: 'No runs match the filter.\n' });
    expect(await lapisJson(['run', 'list', '--experiment', 'cli-exp', '--filter', 'metrics.rmse > 100'])).toEqual([]);
  });

  it('prints the same objects as YAML', async () => {
    const args = ['run', 'list', '--experiment', 'cli-exp', '--order-by', 'attributes.start_time ASC'];
    const json = await lapisJson<unknown[]>(args);
    const yaml = await lapis([...args, '-o', 'yaml']);
    expect(yaml.code).toBe(0);
    expect(YAML.parse(yaml.stdout)).toEqual(json);
    expect(json).toHaveLength(3);
  });

  it('pages through every result with --all', async () => {
    const first = await lapis(['run', 'list', '--experiment', 'paging', '--max-results', '2', '-o', 'json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toHaveLength(2);
    expect(first.stderr).toMatch(/More runs match than shown \(2\)\. Pass --all/);

    const all = await lapisJson<{ info: { run_id: string } }[]>(['run', 'list', '--experiment', 'paging', '--max-results', '2', '--all', '--order-by', 'attributes.start_time ASC']);
    expect(all.map((r) => r.info.run_id)).toEqual(pagingRuns);

    const token = /--page-token (\S+)/.exec(first.stderr)?.[1] as string;
    const second = await lapisJson<unknown[]>(['run', 'list', '--experiment', 'paging', '--max-results', '2', '--page-token', token]);
    expect(second).toHaveLength(2);
  });

  it('lists several experiments at once, with an experiment column', async () => {
    const res = await lapis(['run', 'list', '--experiment', 'cli-exp', '--experiment', 'paging', '--all']);
    expect(res.code).toBe(0);
    expect(res.stdout.split('\n')[0]).toMatch(/^RUN ID\s+NAME\s+EXPERIMENT\s+STATUS/);
    expect(res.stdout.trimEnd().split('\n')).toHaveLength(1 + 3 + 5);
  });

  it('exits 2 on a bad filter, with the parser message pointing at the position', async () => {
    const res = await lapis(['run', 'list', '--experiment', 'cli-exp', '--filter', 'metrics.rmse < abc']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(
      `error: Invalid filter "metrics.rmse < abc": expected a number after '<' at position 15, found 'abc'. Metric values are numbers, e.g. metrics.rmse < 0.8\n` +
        `  metrics.rmse < abc\n` +
        `                 ^\n`,
    );
  });

  it('exits 3 on an unknown experiment', async () => {
    const res = await lapis(['run', 'list', '--experiment', 'no-such-experiment']);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/^error: .*no-such-experiment.*\n$/);
  });
});

describe('lapis run show', () => {
  it('prints the API object as JSON', async () => {
    const shown = await lapisJson<unknown>(['run', 'show', runB.id]);
    const api = await (await fetch(`${server.url}/api/v1/runs/${runB.id}`)).json();
    expect(shown).toEqual(api);
  });

  it('prints a sectioned view as a table', async () => {
    const res = await lapis(['run', 'show', runB.id]);
    expect(res.code).toBe(0);
    const out = res.stdout;
    expect(out).toContain(`Run ${runB.id}\n`);
    expect(out).toMatch(/Name:\s+run-b/);
    expect(out).toMatch(new RegExp(`Experiment:\\s+cli-exp \\(${experimentId}\\)`));
    expect(out).toMatch(/Status:\s+FINISHED/);
    expect(out).toMatch(/Start time:\s+2023-11-14 22:14:20/);
    expect(out).toMatch(/Duration:\s+1m 12s/);
    expect(out).toMatch(/\nParams\n\s+KEY\s+VALUE\n\s+alpha\s+0\.5\n\s+l1_ratio\s+0\.2\n/);
    expect(out).toMatch(/\nMetrics \(latest\)\n\s+KEY\s+VALUE\s+STEP\s+TIMESTAMP\n\s+r2\s+0\.41\s+0\s+2023-11-14 22:14:21\n\s+rmse\s+0\.7\s+0/);
    expect(out).toMatch(/\nTags\n[\s\S]*mlflow\.runName\s+run-b/);
    expect(out).toMatch(/\nDatasets\n\s+NAME\s+DIGEST\s+CONTEXT\s+SOURCE TYPE\s+SOURCE\n\s+wine-quality\s+abc123\s+training\s+local\s+\/data\/wine\.csv/);
  });

  it('exits 3 on an unknown run', async () => {
    const res = await lapis(['run', 'show', 'ffffffffffffffffffffffffffffffff']);
    expect(res.code).toBe(3);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^error: Run .*ffffffffffffffffffffffffffffffff.* not found/);
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('--workspace', () => {
  it('isolates runs by workspace, through -w and LAPIS_WORKSPACE', async () => {
    // `dev` was created by the workspace tests; create it here if this test runs alone.
    await lapis(['workspace', 'create', 'dev']);
    const devRun = await createRun('0', 'in-dev', { workspace: 'dev' });

    const inDev = await lapisJson<{ info: { run_id: string } }[]>(['run', 'list', '-w', 'dev']);
    expect(inDev.map((r) => r.info.run_id)).toEqual([devRun.id]);
    const viaEnv = await lapisJson<{ info: { run_id: string } }[]>(['run', 'list'], { LAPIS_WORKSPACE: 'dev' });
    expect(viaEnv.map((r) => r.info.run_id)).toEqual([devRun.id]);

    const inDefault = await lapisJson<{ info: { run_id: string } }[]>(['run', 'list']);
    expect(inDefault.map((r) => r.info.run_id)).toEqual([defaultRun.id]);

    expect((await lapis(['run', 'show', devRun.id])).code).toBe(3);
    expect((await lapis(['run', 'show', devRun.id, '--workspace', 'dev'])).code).toBe(0);
    expect((await lapis(['experiment', 'show', 'cli-exp', '-w', 'dev'])).code).toBe(3);
  });

  it('exits 3 for a workspace that does not exist', async () => {
    const res = await lapis(['run', 'list', '-w', 'ghost']);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/^error: Workspace 'ghost' does not exist/);
  });
});

describe('lapis run artifacts', () => {
  it('lists one level, or every file with --recursive', async () => {
    const top = await lapisJson<{ path: string; is_dir: boolean }[]>(['run', 'artifacts', 'list', runB.id]);
    expect([...top].sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: 'metrics.json', is_dir: false, file_size: artifacts['metrics.json']?.length },
      { path: 'model', is_dir: true },
    ]);

    const all = await lapisJson<{ path: string; file_size: number }[]>(['run', 'artifacts', 'list', runB.id, '--recursive']);
    expect(all.map((f) => [f.path, f.file_size]).sort()).toEqual(Object.entries(artifacts).map(([p, c]) => [p, c.length]).sort());

    const table = await lapis(['run', 'artifacts', 'list', runB.id, '--path', 'model']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^PATH\s+TYPE\s+SIZE$/m);
    expect(table.stdout).toMatch(/^model\/MLmodel\s+file\s+\d+ B$/m);
    expect(table.stdout).toMatch(/^model\/data\/\s+dir\s+-$/m);

    const none = await lapis(['run', 'artifacts', 'list', runA.id]);
    expect(none).toMatchObject({ code: 0, stdout: `Run ${runA.id} has no artifacts.\n` });
  });

  it('downloads a nested directory, byte for byte, and prints the local paths', async () => {
    const dest = await mkdtemp(join(work, 'dl-'));
    const res = await lapis(['run', 'artifacts', 'download', runB.id, '--path', 'model', '--dest', dest]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const expected = Object.keys(artifacts)
      .filter((p) => p.startsWith('model/'))
      .sort();
    expect(res.stdout.trimEnd().split('\n').sort()).toEqual(expected.map((p) => join(dest, p)).sort());
    expect(await filesUnder(dest)).toEqual(expected);
    for (const p of expected) expect((await readFile(join(dest, p))).equals(artifacts[p] as Buffer), p).toBe(true);
  });

  it('downloads the whole run, or one file into the current folder by default', async () => {
    const dest = await mkdtemp(join(work, 'dl-all-'));
    const all = await lapisJson<{ local_path: string; is_dir: boolean; files: { path: string; size: number }[]; bytes: number }>([
      'run',
      'artifacts',
      'download',
      runB.id,
      '--dest',
      dest,
    ]);
    expect(all.local_path).toBe(dest);
    expect(all.is_dir).toBe(true);
    expect(all.files.map((f) => f.path).sort()).toEqual(Object.keys(artifacts).sort());
    expect(all.bytes).toBe(Object.values(artifacts).reduce((n, b) => n + b.length, 0));
    expect(await filesUnder(dest)).toEqual(Object.keys(artifacts).sort());
    for (const [p, content] of Object.entries(artifacts)) expect((await readFile(join(dest, p))).equals(content), p).toBe(true);

    const one = await lapis(['run', 'artifacts', 'download', runB.id, '--path', 'model/data/weights.bin']);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe(`${join(work, 'model/data/weights.bin')}\n`);
    expect((await readFile(join(work, 'model/data/weights.bin'))).equals(artifacts['model/data/weights.bin'] as Buffer)).toBe(true);
    expect(await filesUnder(join(work, 'model'))).toEqual(['data/weights.bin']);
  });

  it('exits 3 when the artifact does not exist, leaving nothing behind', async () => {
    const dest = join(work, 'dl-missing');
    const res = await lapis(['run', 'artifacts', 'download', runB.id, '--path', 'model/nope', '--dest', dest]);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/^error: Run \w+ has no artifact 'model\/nope'/);
    expect(existsSync(dest)).toBe(false);
  });
});

describe('LAPIS_TOKEN', () => {
  it('is sent as a bearer token to a server with authentication on', async () => {
    const secured = await startLapis({ backend: 'sqlite', args: ['--auth', 'on'] });
    try {
      // The first start prints the admin's token once, just after the "listening" line.
      const deadline = Date.now() + 10_000;
      let token: string | undefined;
      while (!(token = /\blapis_[A-Za-z0-9_-]+/.exec(secured.logs())?.[0]) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(token, secured.logs()).toBeDefined();
      const anonymous = await lapis(['workspace', 'list'], { LAPIS_URL: secured.url });
      expect(anonymous.code).toBe(2);
      expect(anonymous.stderr).toMatch(/^error: Authentication required/);
      const list = await lapisJson<{ name: string }[]>(['workspace', 'list'], { LAPIS_URL: secured.url, LAPIS_TOKEN: token as string });
      expect(list.map((w) => w.name)).toEqual(['default']);
    } finally {
      await secured.stop();
    }
  });
});

describe('bad input and an unreachable server', () => {
  it('exits 4 with a hint when the server is down', async () => {
    const url = await deadUrl();
    const res = await lapis(['run', 'list'], { LAPIS_URL: url });
    expect(res.code).toBe(4);
    expect(res.stderr).toBe(
      `error: Cannot reach the Lapis server at ${url} (connection refused). Start one with 'lapis server', or point to a running server with --server <url> or LAPIS_URL.\n`,
    );
    const viaFlag = await lapis(['experiment', 'list', '--server', url]);
    expect(viaFlag.code).toBe(4);
  });

  it('rejects bad options before sending any request (exit 2, not 4, with the server down)', async () => {
    const url = await deadUrl();
    const cases: [string[], RegExp][] = [
      [['run', 'list', '-o', 'xml'], /argument 'xml' is invalid\. Allowed choices are table, json, yaml\./],
      [['run', 'list', '--max-results', '0'], /argument '0' is invalid\. Use a whole number of at least 1/],
      [['experiment', 'list', '--view', 'gone'], /Allowed choices are active, deleted, all\./],
      [['run', 'list', '--server', 'localhost:5050'], /argument 'localhost:5050' is invalid\. Use an http\(s\) URL/],
      [['run', 'list', '--no-such-flag'], /unknown option '--no-such-flag'/],
      [['run', 'show'], /missing required argument 'run-id'/],
    ];
    for (const [args, message] of cases) {
      const res = await lapis(args, { LAPIS_URL: url });
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr, args.join(' ')).toMatch(/^error: /);
      expect(res.stderr, args.join(' ')).toMatch(message);
    }
  });
});
