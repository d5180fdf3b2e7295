/**
 * Many real MLflow clients writing at once (SQLite, one writer at a time underneath): every process
 * finishes cleanly, the server logs no error and no `database is locked`, and afterwards every metric
 * point of every run is there with its exact value, the latest metrics are the last step's, and all
 * params and tags are present. The workers are test/python/concurrent_logger.py, released together
 * through a file barrier once all have imported mlflow.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { python, startLapis, type LapisServer } from '../support/server.js';

const SCRIPT = fileURLToPath(new URL('../python/concurrent_logger.py', import.meta.url));
const WORKERS = 8;
const BATCH_STEPS = 100;
const T0 = 1_700_000_000_000;
const MLFLOW = '/api/2.0/mlflow';

// The values concurrent_logger.py logs; the same IEEE operations in the same order give the same doubles.
const EXPECTED: Record<string, (worker: number, step: number) => number> = {
  loss: (w, s) => 1 / (s + 1) + w / 8,
  acc: (w, s) => s / 1000 + w,
  lr: (w, s) => 0.1 / (1 + s + w),
};
const timestampOf = (w: number, s: number): number => T0 + w * 100_000 + s;

interface Summary {
  ok: boolean;
  worker: number;
  run_id: string;
  experiment_id: string;
  requests: number;
  started: number;
  finished: number;
}
interface Worker {
  code: number;
  stdout: string;
  stderr: string;
  summary: Summary | undefined;
}
interface MetricPoint {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
interface RunJson {
  info: { run_id: string; run_name: string; status: string; experiment_id: string };
  data: { metrics?: MetricPoint[]; params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function lastJsonLine(stdout: string): Summary | undefined {
  const line = stdout.trim().split('\n').pop();
  try {
    return line ? (JSON.parse(line) as Summary) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts WORKERS loggers, releases them together once all are ready (or one has already died), and waits for all. */
async function runWorkers(url: string, experiment: string, steps: number): Promise<Worker[]> {
  const barrier = await mkdtemp(join(tmpdir(), 'lapis-barrier-'));
  try {
    const env = {
      MLFLOW_TRACKING_URI: url,
      // A server error must fail the worker at once, not be retried for minutes.
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
      MLFLOW_HTTP_REQUEST_TIMEOUT: '60',
      MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT: 'true',
      // The client's telemetry thread rewrites os.environ while requests reads it: a rare KeyError in a worker.
      MLFLOW_DISABLE_TELEMETRY: 'true',
      DO_NOT_TRACK: 'true',
    };
    let exited = 0;
    const runs = Array.from({ length: WORKERS }, (_, w) => {
      const args = ['--experiment', experiment, '--worker', String(w), '--steps', String(steps), '--batch-steps', String(BATCH_STEPS), '--barrier', barrier, '--t0', String(T0)];
      const run = python(SCRIPT, args, env, 240_000);
      void run.then(
        () => exited++,
        () => exited++,
      );
      return run;
    });
    const deadline = Date.now() + 180_000;
    while (exited === 0 && (await readdir(barrier)).filter((n) => n.startsWith('ready-')).length < WORKERS) {
      if (Date.now() > deadline) throw new Error(`the ${WORKERS} workers were not all ready within 180 s`);
      await sleep(20);
    }
    await writeFile(join(barrier, 'go'), '');
    return (await Promise.all(runs)).map((r) => ({ ...r, summary: lastJsonLine(r.stdout) }));
  } finally {
    await rm(barrier, { recursive: true, force: true });
  }
}

const describeWorker = (w: Worker, i: number): string => `worker ${i} exited ${w.code}\n--- stdout ---\n${w.stdout.slice(-2000)}\n--- stderr ---\n${w.stderr.slice(-4000)}`;

/** The server's log records written since `from`, parsed; non-JSON lines are kept as text. */
function serverRecords(lapis: LapisServer, from: number): { json: Record<string, unknown>[]; text: string[] } {
  const json: Record<string, unknown>[] = [];
  const text: string[] = [];
  for (const line of lapis.logs().slice(from).split('\n')) {
    if (line.trim() === '') continue;
    try {
      json.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      text.push(line);
    }
  }
  return { json, text };
}

describe('concurrent MLflow clients on SQLite', () => {
  let lapis: LapisServer;

  const api = async <T>(path: string, init?: { body: unknown }): Promise<T> => {
    const res = await fetch(`${lapis.url}${MLFLOW}/${path}`, init ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.body) } : undefined);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  };

  /** Every point, the latest values, params and tags of each worker's run, exactly. */
  async function expectEverythingStored(experimentId: string, workers: Worker[], steps: number): Promise<void> {
    const { runs = [] } = await api<{ runs?: RunJson[] }>('runs/search', { body: { experiment_ids: [experimentId], max_results: 1000 } });
    expect(runs.map((r) => r.info.run_name).sort()).toEqual(Array.from({ length: WORKERS }, (_, w) => `worker-${w}`).sort());
    for (const [w, worker] of workers.entries()) {
      const runId = worker.summary?.run_id as string;
      const { run } = await api<{ run: RunJson }>(`runs/get?run_id=${runId}`);
      expect(run.info).toMatchObject({ run_name: `worker-${w}`, status: 'FINISHED', experiment_id: experimentId });

      for (const [key, value] of Object.entries(EXPECTED)) {
        const { metrics = [] } = await api<{ metrics?: MetricPoint[] }>(`metrics/get-history?run_id=${runId}&metric_key=${key}`);
        const expected = Array.from({ length: steps }, (_, s) => ({ key, value: value(w, s), timestamp: timestampOf(w, s), step: s }));
        expect(metrics.length, `${key} of worker ${w}`).toBe(steps);
        expect([...metrics].sort((a, b) => a.step - b.step), `${key} of worker ${w}`).toEqual(expected);
      }
      const last = steps - 1;
      const latest = Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m]));
      expect(latest, `latest metrics of worker ${w}`).toEqual(
        Object.fromEntries(Object.entries(EXPECTED).map(([key, value]) => [key, { key, value: value(w, last), timestamp: timestampOf(w, last), step: last }])),
      );

      const params = [...(run.data.params ?? [])].sort((a, b) => a.key.localeCompare(b.key));
      const expectedParams = [...Array.from({ length: 20 }, (_, k) => ({ key: `param_${k}`, value: `w${w}-v${k}` })), { key: 'worker', value: String(w) }];
      expect(params, `params of worker ${w}`).toEqual(expectedParams.sort((a, b) => a.key.localeCompare(b.key)));
      const tags = Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
      for (let k = 0; k < 10; k++) expect(tags[`tag_${k}`], `tag_${k} of worker ${w}`).toBe(`w${w}-t${k}`);
      expect(tags.worker).toBe(String(w));
      expect(tags['mlflow.runName']).toBe(`worker-${w}`);
    }
  }

  function expectCleanExits(workers: Worker[], experimentId?: string): void {
    for (const [i, w] of workers.entries()) {
      expect(w.code, describeWorker(w, i)).toBe(0);
      expect(w.summary, describeWorker(w, i)).toMatchObject({ ok: true, worker: i, ...(experimentId ? { experiment_id: experimentId } : {}) });
      expect(w.stderr, describeWorker(w, i)).not.toMatch(/error|exception|traceback|database is locked|retrying/i);
    }
  }

  function expectQuietServer(from: number, allowClientErrors: boolean): void {
    const { json, text } = serverRecords(lapis, from);
    const all = lapis.logs().slice(from);
    expect(all).not.toMatch(/database is locked|SQLITE_BUSY/i);
    expect(json.filter((r) => Number(r.level) >= 50)).toEqual([]);
    const failed = json.filter((r) => r.msg === 'request' && Number(r.status) >= (allowClientErrors ? 500 : 400));
    expect(failed).toEqual([]);
    expect(text.filter((l) => /error/i.test(l))).toEqual([]);
  }

  beforeAll(async () => {
    lapis = await startLapis({ backend: 'sqlite' });
  });

  afterAll(async () => {
    await lapis?.stop();
  });

  it(`${WORKERS} processes each log 3 metrics x 500 steps, params and tags into one experiment at once`, async () => {
    const steps = 500;
    const { experiment_id: experimentId } = await api<{ experiment_id: string }>('experiments/create', { body: { name: 'concurrent-loggers' } });
    const from = lapis.logs().length;

    const workers = await runWorkers(lapis.url, 'concurrent-loggers', steps);

    expectCleanExits(workers, experimentId);
    // The barrier worked: at some moment every worker was logging.
    const summaries = workers.map((w) => w.summary as Summary);
    expect(Math.max(...summaries.map((s) => s.started))).toBeLessThan(Math.min(...summaries.map((s) => s.finished)));
    expectQuietServer(from, false);
    await expectEverythingStored(experimentId, workers, steps);
  });

  it(`${WORKERS} processes racing to create the same experiment all end up in it`, async () => {
    const steps = 20;
    const name = `raced-${Date.now()}`;
    const from = lapis.logs().length;

    const workers = await runWorkers(lapis.url, name, steps);

    expectCleanExits(workers);
    // Losers of the race see 404 (get-by-name) and RESOURCE_ALREADY_EXISTS (create), which the client handles; no 5xx.
    expectQuietServer(from, true);
    const ids = new Set(workers.map((w) => w.summary?.experiment_id));
    expect(ids.size, `experiment ids seen by the workers: ${[...ids].join(', ')}`).toBe(1);
    const experimentId = [...ids][0] as string;
    const { experiments } = await api<{ experiments: { experiment_id: string; name: string }[] }>('experiments/search?view_type=ALL&max_results=1000');
    expect(experiments.filter((e) => e.name === name).map((e) => e.experiment_id)).toEqual([experimentId]);
    await expectEverythingStored(experimentId, workers, steps);
  });
});
