/**
 * Command jobs end to end: the built CLI submits Azure ML job YAML to a real server, which runs real
 * Python through the task runner on local compute. Training logs through the real mlflow client;
 * inputs of every kind arrive as files; failures, timeouts, cancels and a server restart behave as
 * a user expects; bad input is refused before anything is created.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runCli, type CliResult } from '../support/cli.js';
import { python, startLapis, type LapisServer } from '../support/server.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(repoRoot, 'test/jobs');
const EXAMPLE = join(repoRoot, 'examples/jobs/sklearn');

let server: LapisServer;
let work: string;
let cache: string;

interface Job {
  name: string;
  status: string;
  exit_code: number | null;
  error: string | null;
  status_times: Record<string, number>;
  outputs: Record<string, { hash?: string | null; files?: number; registered?: string }>;
  run_id: string;
  command: string;
}

const lapis = (args: string[], env: Record<string, string> = {}, url = server.url): Promise<CliResult> => runCli(args, { url, cwd: work, env, timeoutMs: 170_000 });

async function lapisJson<T>(args: string[], url = server.url): Promise<T> {
  const res = await lapis([...args, '-o', 'json'], {}, url);
  expect(res.code, `lapis ${args.join(' ')}\n${res.stderr}`).toBe(0);
  return JSON.parse(res.stdout) as T;
}

async function api<T>(path: string, init: RequestInit = {}, url = server.url): Promise<T> {
  const res = await fetch(`${url}${path}`, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Writes a job YAML into the work folder and returns its path. */
async function jobFile(name: string, spec: Record<string, unknown>): Promise<string> {
  const path = join(work, `${name}.yml`);
  await writeFile(path, YAML.stringify(spec));
  return path;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const jobStatus = (name: string, url = server.url) => api<Job>(`/api/v1/jobs/${name}`, {}, url);
const untilStatus = (name: string, statuses: string[], timeoutMs = 60_000, url = server.url) =>
  waitFor(`job ${name} to reach ${statuses.join('/')}`, async () => {
    const job = await jobStatus(name, url);
    return statuses.includes(job.status) ? job : undefined;
  }, timeoutMs);

async function logText(name: string, url = server.url): Promise<string> {
  const { entries } = await api<{ entries: { text: string }[] }>(`/api/v1/jobs/${name}/logs`, {}, url);
  return entries.map((e) => e.text).join('');
}

/** Processes of this machine still carrying the job's LAPIS_JOB variable. */
async function processesOf(job: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '');
    if (`\0${environ}`.includes(`\0LAPIS_JOB=${job}\0`)) found.push(Number(pid));
  }
  return found;
}

const sleeper = (name: string, seconds: number, extra: Record<string, unknown> = {}) =>
  jobFile(name, { type: 'command', code: join(FIXTURES, 'sleeper'), command: `python sleeper.py --seconds ${seconds}`, ...extra });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lapis-jobs-'));
  cache = join(work, 'cache');
  server = await startLapis({
    backend: 'sqlite',
    env: { LAPIS_PYTHON: process.env.LAPIS_TEST_PYTHON as string, LAPIS_LOCAL_SLOTS: '2', LAPIS_JOB_CACHE: cache },
  });
});

afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('a scikit-learn training job (the example)', () => {
  it('trains on a data asset, logs through mlflow, registers its model output, and the model predicts', async () => {
    const data = await lapis(['data', 'create', '-f', join(EXAMPLE, 'data.yml')]);
    expect(data.code, data.stderr).toBe(0);
    // The example names a curated environment; here the host Python (the test venv) runs it.
    const spec = YAML.parse(await readFile(join(EXAMPLE, 'job.yml'), 'utf8')) as Record<string, unknown>;
    delete spec.environment;
    spec.code = join(EXAMPLE, 'src');
    const file = await jobFile('train', spec);

    const res = await lapis(['job', 'create', '-f', file, '--stream', '--name', 'iris_train_1']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toMatch(/test accuracy 0\.\d+/);
    expect(res.stdout).toContain('Registered:');
    expect(res.stderr).toMatch(/code .*uploaded 1 file/);

    const job = await lapisJson<Job>(['job', 'show', 'iris_train_1']);
    expect(job.status).toBe('Completed');
    expect(Object.keys(job.status_times)).toEqual(['Queued', 'Preparing', 'Running', 'Finalizing', 'Completed']);
    expect(job.outputs.model?.registered).toBe('azureml:iris-classifier:1');

    // The job is its MLflow run: metrics and autologged params landed on it, and it finished.
    const run = await api<{ run: { info: { status: string; experiment_id: string }; data: { metrics: { key: string; value: number }[]; params: { key: string }[] } } }>(
      '/api/2.0/mlflow/runs/get?run_id=iris_train_1',
    );
    expect(run.run.info.status).toBe('FINISHED');
    expect(run.run.data.metrics.find((m) => m.key === 'test_accuracy')?.value).toBeGreaterThan(0.8);
    expect(run.run.data.params.some((p) => p.key.startsWith('logisticregression__C'))).toBe(true);
    const artifacts = await api<{ files: { path: string }[] }>('/api/2.0/mlflow/artifacts/list?run_id=iris_train_1&path=user_logs');
    expect(artifacts.files.map((f) => f.path)).toContain('user_logs/std_log.txt');

    // Lineage: the model was produced by the job's run, which consumed the data asset.
    const lineage = await lapis(['model', 'show', 'iris-classifier:1', '--lineage']);
    expect(lineage.stdout).toContain('iris-train:1');
    expect(lineage.stdout).toContain('iris_train_1');

    // The registered model loads through the real mlflow client and predicts.
    const script = join(work, 'predict.py');
    await writeFile(
      script,
      [
        'import mlflow, pandas as pd',
        'm = mlflow.pyfunc.load_model("models:/iris-classifier/1")',
        'print(list(m.predict(pd.DataFrame([[5.1, 3.5, 1.4, 0.2]], columns=["sepal_length","sepal_width","petal_length","petal_width"]))))',
      ].join('\n'),
    );
    const predicted = await python(script, [], { MLFLOW_TRACKING_URI: server.url });
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(predicted.stdout).toContain('setosa');
  });
});

describe('inputs and outputs', () => {
  it('materializes every input kind and mode, binds literals and optional inputs, and uploads both output kinds', async () => {
    await mkdir(join(work, 'local-folder'), { recursive: true });
    await writeFile(join(work, 'local-folder', 'a.txt'), 'a\n');
    await writeFile(join(work, 'local-folder', 'b.txt'), 'b\n');
    await writeFile(join(work, 'local-file.txt'), 'hello file\n');
    const producer = await lapis(['job', 'create', '-f', await sleeper('producer', 0.1, {
        command: 'python sleeper.py --seconds 0.1 --out ${{outputs.result}}',
        outputs: { result: { path: 'azureml://datastores/workspaceblobstore/paths/shared/result' } },
      }), '--stream', '--name', 'producer_1']);
    expect(producer.code, producer.stderr).toBe(0);

    const file = await jobFile('inputs', {
      type: 'command',
      code: join(FIXTURES, 'inputs'),
      command: [
        'python check_inputs.py --local-file ${{inputs.local_file}} --local-folder ${{inputs.local_folder}}',
        '--asset ${{inputs.asset}} --asset-file ${{inputs.asset_file}} --url ${{inputs.url}} --model ${{inputs.model}}',
        '--job-output ${{inputs.job_output}} --direct ${{inputs.direct}} --lr ${{inputs.lr}} --flag ${{inputs.flag}}',
        '--ds-folder ${{inputs.ds_folder}} --ds-file ${{inputs.ds_file}}',
        '$[[--seed ${{inputs.seed}}]] --out-dir ${{outputs.folder}} --out-file ${{outputs.single}}',
      ].join(' '),
      inputs: {
        local_file: { type: 'uri_file', path: './local-file.txt', mode: 'download' },
        local_folder: { type: 'uri_folder', path: './local-folder' },
        asset: { type: 'uri_folder', path: 'azureml:iris-train@latest', mode: 'download' },
        asset_file: { type: 'uri_file', path: 'azureml:iris-train:1' },
        url: { type: 'uri_file', path: `${server.url}/health` },
        model: { type: 'mlflow_model', path: 'azureml:iris-classifier:1' },
        job_output: { type: 'uri_folder', path: 'azureml://jobs/producer_1/outputs/result' },
        direct: { type: 'uri_folder', path: 's3://bucket/some/prefix', mode: 'direct' },
        ds_folder: { type: 'uri_folder', path: 'azureml://datastores/workspaceblobstore/paths/shared/result' },
        ds_file: { type: 'uri_file', path: 'azureml://datastores/workspaceblobstore/paths/shared/result/done.txt', mode: 'download' },
        lr: 0.01,
        flag: true,
      },
      outputs: { folder: { type: 'uri_folder', name: 'inputs-summary', version: '7' }, single: { type: 'uri_file' } },
      environment_variables: { GREETING: 'hi' },
    });
    const res = await lapis(['job', 'create', '-f', file, '--stream', '--name', 'inputs_1']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    const line = /^RESULT (.*)$/m.exec(res.stdout)?.[1];
    expect(line).toBeDefined();
    const r = JSON.parse(line as string) as Record<string, unknown>;
    expect(r.local_file).toBe('hello file');
    expect(r.local_file_writable).toBe(true); // download: a writable copy
    expect(r.local_folder).toEqual(['a.txt', 'b.txt']);
    expect(r.local_folder_writable).toBe(false); // ro_mount (the default): read-only
    expect(r.asset).toEqual(['iris.csv']);
    expect(r.asset_writable).toBe(true);
    expect(r.asset_file).toBe('sepal_length,sepal_width,petal_length,petal_width,species');
    expect(r.url).toBe('OK');
    expect(r.model).toContain('MLmodel');
    expect(r.job_output).toEqual(['done.txt']);
    expect(r.direct).toBe('s3://bucket/some/prefix');
    expect(r.ds_folder).toEqual(['done.txt']);
    expect(r.ds_file).toMatch(/^\d+ ticks$/);
    expect(r.lr).toBe(0.01);
    expect(r.flag).toBe('True');
    expect(r.seed).toBeNull(); // the optional input was not given: its $[[ ]] fragment was dropped
    expect(r.env).toBe('hi');
    expect(r.mlflow_run_id).toBe('inputs_1');

    const job = await lapisJson<Job>(['job', 'show', 'inputs_1']);
    expect(job.command).not.toContain('--seed');
    expect(job.outputs.folder?.registered).toBe('azureml:inputs-summary:7');
    expect(job.outputs.single?.files).toBe(1);
    const download = await lapis(['job', 'download', 'inputs_1', '--download-path', join(work, 'dl')]);
    expect(download.code, download.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(work, 'dl', 'inputs_1', 'folder', 'summary.json'), 'utf8'))).toMatchObject({ lr: 0.01 });
    expect(await readFile(join(work, 'dl', 'inputs_1', 'single', 'single'), 'utf8')).toBe('one file\n');
  });
});

describe('failures, timeouts and cancel', () => {
  it('a failing command fails the job with its exit code and last lines, and --stream exits 1', async () => {
    const file = await jobFile('fails', { type: 'command', command: 'python -c "import sys; print(\'about to fail\'); sys.exit(3)"' });
    const res = await lapis(['job', 'create', '-f', file, '--stream', '--name', 'fails_1']);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('about to fail');
    expect(res.stdout).toMatch(/failed \(exit code 3\)/);
    const show = await lapis(['job', 'show', 'fails_1']);
    expect(show.stdout).toMatch(/Exit code:\s+3/);
    expect(show.stdout).toContain('Last log lines:');
    expect(show.stdout).toContain('about to fail');
    const run = await api<{ run: { info: { status: string } } }>('/api/2.0/mlflow/runs/get?run_id=fails_1');
    expect(run.run.info.status).toBe('FAILED');
  });

  it('limits.timeout kills the whole process tree and fails the job', async () => {
    const file = await sleeper('timeout', 60, { command: 'python sleeper.py --seconds 60 & python sleeper.py --seconds 60; wait', limits: { timeout: 2 } });
    const started = Date.now();
    const res = await lapis(['job', 'create', '-f', file, '--stream', '--name', 'timeout_1']);
    expect(res.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    const job = await jobStatus('timeout_1');
    expect(job.status).toBe('Failed');
    expect(job.error).toMatch(/timed out after 2 s/);
    await waitFor('the timed-out processes to be gone', async () => ((await processesOf('timeout_1')).length === 0 ? true : undefined), 5_000);
  });

  it('cancel stops a running job within 2 s', async () => {
    const submitted = await lapisJson<Job>(['job', 'create', '-f', await sleeper('cancel', 60), '--name', 'cancel_1']);
    expect(submitted.status).toBe('Queued');
    await waitFor('a tick in the log', async () => ((await logText('cancel_1')).includes('tick 2') ? true : undefined));
    expect((await processesOf('cancel_1')).length).toBeGreaterThan(0);
    const t0 = Date.now();
    const res = await lapis(['job', 'cancel', 'cancel_1']);
    expect(res.code, res.stderr).toBe(0);
    const job = await untilStatus('cancel_1', ['Canceled', 'Failed', 'Completed'], 10_000);
    expect(job.status).toBe('Canceled');
    expect(Date.now() - t0).toBeLessThan(3_000);
    await waitFor('the canceled processes to be gone', async () => ((await processesOf('cancel_1')).length === 0 ? true : undefined), 3_000);
    const run = await api<{ run: { info: { status: string } } }>('/api/2.0/mlflow/runs/get?run_id=cancel_1');
    expect(run.run.info.status).toBe('KILLED');
  });

  it('cancelling a queued job means it never starts', async () => {
    await lapis(['compute', 'create', '-f', await jobFile('one-slot', { name: 'one-slot', max_instances: 1 })]);
    const first = await lapisJson<Job>(['job', 'create', '-f', await sleeper('q1', 3, { compute: 'azureml:one-slot' }), '--name', 'queue_1']);
    const second = await lapisJson<Job>(['job', 'create', '-f', await sleeper('q2', 0.2, { compute: 'azureml:one-slot' }), '--name', 'queue_2']);
    await untilStatus(first.name, ['Running']);
    expect((await jobStatus(second.name)).status).toBe('Queued');
    const compute = await lapisJson<{ running: number; queued: number }>(['compute', 'show', 'one-slot']);
    expect(compute).toMatchObject({ running: 1, queued: 1 });
    await lapis(['job', 'cancel', second.name]);
    expect((await jobStatus(second.name)).status).toBe('Canceled');
    await untilStatus(first.name, ['Completed']);
    expect((await jobStatus(second.name)).status_times.Running).toBeUndefined();
  });
});

describe('instances', () => {
  it('resources.instance_count runs that many copies with their ranks, taking that many slots', async () => {
    const file = await jobFile('ranks', { type: 'command', command: 'echo "rank $RANK of $WORLD_SIZE on $MASTER_ADDR"', resources: { instance_count: 2 } });
    const res = await lapis(['job', 'create', '-f', file, '--stream', '--name', 'ranks_1']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('rank 0 of 2 on 127.0.0.1');
    expect(res.stdout).toMatch(/\[node 1\] rank 1 of 2/);
    expect((await lapisJson<{ slots: number }>(['job', 'show', 'ranks_1'])).slots).toBe(2);
  });
});

describe('environments', () => {
  it('builds a venv once, streams its build log, and reuses it for the next job', async () => {
    const env = { name: 'bare-env', conda_file: { dependencies: ['python=3.11'] } };
    const envFile = join(work, 'env.yml');
    await writeFile(envFile, YAML.stringify(env));
    expect((await lapis(['environment', 'create', '-f', envFile])).code).toBe(0);
    const spec = { type: 'command', command: 'python -c "import sys; print(\'prefix\', sys.prefix)"', environment: 'azureml:bare-env@latest' };
    const first = await lapis(['job', 'create', '-f', await jobFile('env1', spec), '--stream', '--name', 'env_1']);
    expect(first.code, `${first.stdout}\n${first.stderr}`).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`prefix ${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/envs/[0-9a-f]{64}`));
    const second = await lapis(['job', 'create', '-f', await jobFile('env2', spec), '--stream', '--name', 'env_2']);
    expect(second.code).toBe(0);
    const prefix = (out: string) => /prefix (\S+)/.exec(out)?.[1];
    expect(prefix(second.stdout)).toBe(prefix(first.stdout));
    const streams = async (name: string) => (await api<{ entries: { stream: string; text: string }[] }>(`/api/v1/jobs/${name}/logs`)).entries;
    expect((await streams('env_1')).some((e) => e.stream === 'build' && e.text.includes('-m venv'))).toBe(true);
    expect((await streams('env_2')).some((e) => e.stream === 'build')).toBe(false);
    expect(await logText('env_2')).toMatch(/reused cached venv/);
    const j2 = await jobStatus('env_2');
    expect((j2.status_times.Running as number) - (j2.status_times.Preparing as number)).toBeLessThan(1000);
  });

  it('a failed environment build fails the job with the build log', async () => {
    const spec = {
      type: 'command',
      command: 'python -c "print(1)"',
      environment: { conda_file: { dependencies: ['python=3.11', { pip: ['./no-such-local-package-dir'] }] } },
    };
    const res = await lapis(['job', 'create', '-f', await jobFile('badenv', spec), '--stream', '--name', 'badenv_1']);
    expect(res.code).toBe(1);
    const job = await jobStatus('badenv_1');
    expect(job.status).toBe('Failed');
    expect(job.error).toMatch(/environment/i);
    expect(await logText('badenv_1')).toMatch(/no-such-local-package-dir/);
  });
});

describe('bad input is refused before anything is queued', () => {
  const cases: [string, Record<string, unknown> | string, RegExp][] = [
    ['invalid YAML', 'type: command\ncommand: [unclosed\n', /YAML syntax error/],
    ['a missing command', { type: 'command' }, /command/],
    ['an unknown environment', { type: 'command', command: 'echo', environment: 'azureml:no-such-env:1' }, /no-such-env/],
    ['a missing code folder', { type: 'command', command: 'echo', code: './no-such-folder' }, /no-such-folder/],
    ['an unresolvable data reference', { type: 'command', command: 'echo ${{inputs.d}}', inputs: { d: { type: 'uri_folder', path: 'azureml:no-such-data:3' } } }, /no-such-data/],
    ['a reserved environment variable', { type: 'command', command: 'echo', environment_variables: { PATH: '/x' } }, /PATH.*reserved/],
    ['an undeclared input in the command', { type: 'command', command: 'echo ${{inputs.nope}}' }, /nope/],
    ['an unknown compute', { type: 'command', command: 'echo', compute: 'azureml:no-such-compute' }, /no-such-compute/],
    ['more instances than slots', { type: 'command', command: 'echo', compute: 'azureml:one-slot', resources: { instance_count: 2 } }, /instance_count|slot/],
  ];
  it.each(cases)('%s', async (label, spec, message) => {
    const before = (await api<{ jobs: unknown[] }>('/api/v1/jobs?max_results=10000')).jobs.length;
    const path = join(work, `bad-${label.replace(/\W+/g, '-')}.yml`);
    await writeFile(path, typeof spec === 'string' ? spec : YAML.stringify(spec));
    const res = await lapis(['job', 'create', '-f', path]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
    expect((await api<{ jobs: unknown[] }>('/api/v1/jobs?max_results=10000')).jobs.length).toBe(before);
  });
});

describe('the job API refuses bad input with a 4xx and changes nothing', () => {
  const post = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const count = async () => (await api<{ jobs: unknown[] }>('/api/v1/jobs?max_results=10000')).jobs.length;

  it.each([
    ['a spec that is not an object', { spec: 5 }, /mapping|object/],
    ['a bad upload hash', { spec: { command: 'echo' }, uploads: { code: 'xyz' } }, /content hash/],
    ['uploads naming an unknown content', { spec: { command: 'echo', code: './src' }, uploads: { code: 'a'.repeat(64) } }, /not stored/],
    ['a local input path without its upload', { spec: { command: 'echo ${{inputs.d}}', inputs: { d: { path: './data' } } } }, /not uploaded/],
    ['a job name that exists', { spec: { command: 'echo', name: 'fails_1' } }, /already exists/],
    ['a bad job name', { spec: { command: 'echo', name: '../x' } }, /name/],
    ['an unknown input mode', { spec: { command: 'echo ${{inputs.d}}', inputs: { d: { path: 'azureml:iris-train:1', mode: 'fuse' } } } }, /mode/],
    ['an output version without a name', { spec: { command: 'echo', outputs: { o: { version: '1' } } } }, /needs a name/],
  ])('%s', async (_label, body, message) => {
    const before = await count();
    const res = await post('/api/v1/jobs', body);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    expect(await count()).toBe(before);
  });

  it('refuses task reports for ended jobs and stale attempts, and cancels of ended jobs', async () => {
    expect((await post('/api/v1/jobs/fails_1/task/status', { attempt: 1, status: 'Running' })).status).toBe(409);
    expect((await post('/api/v1/jobs/fails_1/task/result', { attempt: 7, status: 'Completed' })).status).toBe(409);
    expect((await post('/api/v1/jobs/fails_1/cancel', {})).status).toBe(400);
    expect((await fetch(`${server.url}/api/v1/jobs/no_such_job/logs`)).status).toBe(404);
    expect((await jobStatus('fails_1')).status).toBe('Failed');
  });
});

describe('restart safety', () => {
  it('a running job is reattached after a server restart and a queued one starts; none runs twice', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'lapis-restart-'));
    const port = String(20_000 + Math.floor(Math.random() * 20_000));
    const env = { LAPIS_PYTHON: process.env.LAPIS_TEST_PYTHON as string, LAPIS_LOCAL_SLOTS: '1', LAPIS_JOB_CACHE: cache };
    let first: LapisServer | undefined = await startLapis({ backend: 'sqlite', dataDir, env, args: ['--port', port] });
    let second: LapisServer | undefined;
    try {
      const url = first.url;
      const running = await lapisJson<Job>(['job', 'create', '-f', await sleeper('r1', 4, { command: 'python sleeper.py --seconds 4 --out ${{outputs.out}}', outputs: { out: {} } }), '--name', 'restart_running'], url);
      const queued = await lapisJson<Job>(['job', 'create', '-f', await sleeper('r2', 0.2), '--name', 'restart_queued'], url);
      await waitFor('the first job to tick', async () => ((await logText(running.name, url)).includes('tick 1') ? true : undefined));
      expect((await jobStatus(queued.name, url)).status).toBe('Queued');
      await first.stop();
      first = undefined;
      second = await startLapis({ backend: 'sqlite', dataDir, env, args: ['--port', port] });
      const done = await untilStatus(running.name, ['Completed', 'Failed', 'Canceled'], 30_000, second.url);
      expect(done.status, done.error ?? '').toBe('Completed');
      expect(done.outputs.out?.files).toBe(1);
      const log = await logText(running.name, second.url);
      expect(log).toContain('Reattached');
      expect(log.match(/Starting on compute/g)).toHaveLength(1);
      expect((log.match(/^finished$/gm) ?? []).length).toBe(1);
      const next = await untilStatus(queued.name, ['Completed', 'Failed'], 30_000, second.url);
      expect(next.status).toBe('Completed');
    } finally {
      await first?.stop();
      await second?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('on PostgreSQL and S3, with authentication on', () => {
  it("runs a job with a token of its submitter, which mlflow uses and which is revoked when the job ends", async () => {
    const secure = await startLapis({
      backend: 'postgres',
      artifacts: 's3',
      args: ['--auth', 'on'],
      env: { LAPIS_PYTHON: process.env.LAPIS_TEST_PYTHON as string, LAPIS_JOB_CACHE: cache },
    });
    try {
      // The admin token is printed once, just after the "listening" line.
      const token = await waitFor('the bootstrap token', async () => /lapis_tok[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}/.exec(secure.logs())?.[0]);
      const auth = { LAPIS_TOKEN: token };
      const file = await jobFile('logger', { type: 'command', code: join(FIXTURES, 'logger'), command: 'python log_metric.py ${{outputs.out}}', outputs: { out: {} } });
      const res = await runCli(['job', 'create', '-f', file, '--stream', '--name', 'secure_1'], { url: secure.url, cwd: work, env: auth, timeoutMs: 120_000 });
      expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
      expect(res.stdout).toContain('logged to run secure_1');

      const headers = { authorization: `Bearer ${token}` };
      const run = await api<{ run: { data: { metrics: { key: string; value: number }[]; tags: { key: string; value: string }[] } } }>('/api/2.0/mlflow/runs/get?run_id=secure_1', { headers }, secure.url);
      expect(run.run.data.metrics.find((m) => m.key === 'answer')?.value).toBe(42);
      expect(run.run.data.tags.find((t) => t.key === 'written_by')?.value).toBe('job');
      const job = await api<Job>('/api/v1/jobs/secure_1', { headers }, secure.url);
      expect(job.outputs.out?.files).toBe(1);

      const revoked = await waitFor('the job token to be revoked', async () => {
        const { tokens } = await api<{ tokens: { name: string; revoked_at: number | null }[] }>('/api/v1/tokens', { headers }, secure.url);
        return tokens.find((t) => t.name === 'job secure_1' && t.revoked_at !== null);
      }, 5_000);
      expect(revoked.revoked_at).toBeGreaterThan(0);
      // Without a token nothing about jobs is visible.
      expect((await fetch(`${secure.url}/api/v1/jobs`)).status).toBe(401);
    } finally {
      await secure.stop();
    }
  });
});
