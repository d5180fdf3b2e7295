/**
 * Jobs benchmark: command jobs on Lapis's local compute, with MLflow Projects (`mlflow run
 * --env-manager local`) as the peer, on this machine. See docs/benchmarks.md (## Jobs).
 *
 *  1. Submit-to-running with a cached environment: a `venv` environment asset (conda_file with
 *     only `python=3.11`, so no pip install) is built by one warm-up job; then N jobs (default 100)
 *     with a one-file code folder are submitted one at a time through the typed client, each after
 *     the previous one ended. Submit-to-running = status_times.Running − the client's Date.now()
 *     just before POST /api/v1/jobs (same machine clock); the command's own start = the
 *     `time.time()` it prints first thing, read back from GET /api/v1/jobs/<name>/logs.
 *     Peer: `mlflow run <dir> --env-manager local` against an `mlflow server`, from spawn to the
 *     same printed timestamp (and to the run's start_time), M runs (default 10) after one warm-up.
 *  2. Throughput: `--jobs` jobs (default 200) of `python -c "import time; time.sleep(1)"` submitted
 *     8 at a time to a server with LAPIS_LOCAL_SLOTS=2; wall time from the first submit to the last
 *     end against Σ(run time)/2, where a job's run time is Preparing → its end.
 *  3. Preparing → Running of the jobs of (1): the cost of an unchanged, cached environment.
 *
 *   npm run bench:jobs [-- --no-build] [--no-write] [--submits N] [--peer-runs N] [--jobs N] [--no-peer]
 *
 * Loopback only; every wait is bounded; the servers and every job process (found by the bench's
 * own LAPIS_CACHE_DIR in their environment) are stopped on every exit path, SIGINT included.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LapisClient, type Job, type JobStatus } from '../../src/client/index.js';
import { uploadContent } from '../../src/client/upload.js';
import { HttpClient, sleep } from '../lib/http.js';
import { percentile, pool } from '../lib/load.js';
import { machineBusySeconds, processTree } from '../lib/proc.js';
import { machineInfo, machineLine, type Machine as Host } from '../lib/machine.js';
import { markdownTable, textTable, writeDocsSection } from '../lib/report.js';
import { killAllNow, startLapis, startMlflow, stopAll, type RunningServer } from '../lib/servers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WORK = join(ROOT, 'bench/.work/jobs');
const CACHE = join(WORK, 'lapis-cache');
const DOCS = join(ROOT, 'docs/benchmarks.md');

// ---------------------------------------------------------------------------------------------
// Parameters

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
function intOption(name: string, fallback: number, min: number, max: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}`);
  return n;
}
const OPTS = {
  build: !flag('--no-build'),
  write: !flag('--no-write'),
  peer: !flag('--no-peer'),
  submits: intOption('--submits', 100, 5, 1000),
  peerRuns: intOption('--peer-runs', 10, 1, 100),
  jobs: intOption('--jobs', 200, 4, 2000),
};

const CFG = {
  slots: 2,
  /** After each sequential job ends: lets its runner exit and the server finish its clean-up before the next submit. */
  settleMs: 250,
  jobTimeoutMs: 120_000,
  submitConcurrency: 8,
  sleepS: 1,
  pollMs: 1_000,
  runnerAloneRuns: 10,
  quiet: { maxWaitMs: 20_000, otherCores: 0.3 },
};
const TARGETS = { runningP50Ms: 100, runningP99Ms: 300, overheadShare: 0.05, cachedPrepareMs: 1_000 };
const MARK = 'BENCH_T0';
const MAIN_PY = `import time\nt0 = time.time()\nprint("${MARK} %r" % t0, flush=True)\n`;

// ---------------------------------------------------------------------------------------------
// Small helpers

const started = performance.now();
const log = (msg: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}`);
const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const median = (xs: readonly number[]): number => percentile(xs, 50);
const p99 = (xs: readonly number[]): number => percentile(xs, 99);
const max = (xs: readonly number[]): number => (xs.length ? Math.max(...xs) : Number.NaN);
const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

function sh(cmd: string, argv: string[]): string {
  const res = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (res.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${res.status}):\n${res.stderr || res.stdout}`);
  return res.stdout.trim();
}

/** Runs a command and resolves with its stdout (stderr is kept for the error message). */
function run(cmd: string, argv: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise(out.trim()) : reject(new Error(`${cmd} exited with ${code}:\n${err.slice(-3000)}`))));
  });
}

// ---------------------------------------------------------------------------------------------
// Processes: CPU accounting and clean-up

/** utime + stime + cutime + cstime of one process, in seconds (0 if it is gone). */
function cpuWithReaped(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds used so far by the bench, its servers and everything they started: live processes
 * count their own time plus that of the children they reaped (job runners, their commands, `mlflow
 * run`), so work that began and ended inside a window is counted too.
 */
function ownCpuSeconds(servers: readonly RunningServer[]): number {
  const pids = new Set([...processTree(process.pid), ...servers.flatMap((s) => processTree(s.pid))]);
  let total = 0;
  for (const p of pids) total += cpuWithReaped(p);
  return total;
}

/** Cores used by everything else on the machine over a window. */
function otherCoresMeter(servers: readonly RunningServer[]): () => number {
  const t0 = performance.now();
  const own0 = ownCpuSeconds(servers);
  const m0 = machineBusySeconds();
  return () => Math.max(0, machineBusySeconds() - m0 - (ownCpuSeconds(servers) - own0)) / ((performance.now() - t0) / 1000);
}

/** Waits (bounded) for a 1-second window in which other processes use less than CFG.quiet.otherCores. */
async function waitForQuiet(servers: readonly RunningServer[]): Promise<number> {
  const t0 = performance.now();
  let other = Infinity;
  while (performance.now() - t0 < CFG.quiet.maxWaitMs) {
    const meter = otherCoresMeter(servers);
    await sleep(1_000);
    other = meter();
    if (other < CFG.quiet.otherCores) {
      if (performance.now() - t0 > 1_500) log(`  (waited ${fmt((performance.now() - t0) / 1000)} s for other processes to calm down)`);
      return other;
    }
  }
  log(`  note: other processes kept ${fmt(other, 2)} cores busy; measuring anyway`);
  return other;
}

/**
 * SIGKILLs every job process of this bench: runners are detached (they outlive a server restart by
 * design), so stopping the server does not stop them. They are recognised by the bench's own job
 * cache folder in their environment, which no other process on the machine carries.
 */
function killJobProcesses(): number {
  const needle = `\0LAPIS_CACHE_DIR=${CACHE}\0`;
  let killed = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!`\0${environ}`.includes(needle)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

/** `mlflow run` children, in their own process groups, killed on every exit path. */
const peerGroups = new Set<number>();
function killPeers(): void {
  for (const pgid of peerGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  peerGroups.clear();
}

// ---------------------------------------------------------------------------------------------
// Lapis: submit-to-running, one job at a time

interface SubmitSample {
  name: string;
  /** Client epoch ms just before POST /api/v1/jobs. */
  t0: number;
  postMs: number;
  queued: number;
  preparing: number;
  running: number;
  finalizing: number;
  ended: number;
  /** Epoch ms the command printed as its first act. */
  command: number;
  /** The runner's "environment …: reused cached venv … in X s" line. */
  envLine: string;
}

const statusTime = (job: Job, s: JobStatus): number => {
  const t = job.status_times[s];
  if (t === undefined) throw new Error(`job ${job.name} has no ${s} time: ${JSON.stringify(job.status_times)}`);
  return t;
};

/** Resolves when the job reached a terminal status: the server's live log stream ends with it (no polling). */
async function waitForEnd(client: LapisClient, name: string, timeoutMs: number): Promise<Job> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    for await (const event of client.jobs.follow(name, { signal: abort.signal })) if (event.type === 'end') break;
  } catch (err) {
    if (abort.signal.aborted) throw new Error(`job ${name} did not end within ${timeoutMs / 1000} s`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return client.jobs.get(name);
}

async function allLogs(client: LapisClient, name: string): Promise<{ stream: string; text: string }[]> {
  const out: { stream: string; text: string }[] = [];
  for (let after = 0, page = 0; page < 20; page++) {
    const res = await client.jobs.logs(name, after);
    if (res.entries.length === 0) break;
    out.push(...res.entries);
    after = res.next;
  }
  return out;
}

async function runOne(client: LapisClient, spec: Record<string, unknown>, codeHash: string): Promise<{ job: Job; t0: number; postMs: number; logs: { stream: string; text: string }[] }> {
  const t0 = Date.now();
  const p0 = performance.now();
  const created = await client.jobs.create(spec, { uploads: { code: codeHash } });
  const postMs = performance.now() - p0;
  const job = await waitForEnd(client, created.name, CFG.jobTimeoutMs);
  const logs = await allLogs(client, created.name);
  if (job.status !== 'Completed') {
    throw new Error(`job ${job.name} ended ${job.status}: ${job.error ?? ''}\n${logs.map((l) => l.text).join('').slice(-2000)}`);
  }
  return { job, t0, postMs, logs };
}

function sampleOf(r: { job: Job; t0: number; postMs: number; logs: { stream: string; text: string }[] }): SubmitSample {
  const user = r.logs.filter((l) => l.stream === 'user').map((l) => l.text).join('');
  const m = new RegExp(`${MARK} ([0-9.]+)`).exec(user);
  if (!m) throw new Error(`job ${r.job.name}: no ${MARK} line in its log:\n${user.slice(0, 500)}`);
  const system = r.logs.filter((l) => l.stream === 'system').map((l) => l.text).join('');
  const envLine = /environment [^\n]*(?:reused cached venv|built venv)[^\n]*/.exec(system)?.[0] ?? '';
  return {
    name: r.job.name,
    t0: r.t0,
    postMs: r.postMs,
    queued: statusTime(r.job, 'Queued'),
    preparing: statusTime(r.job, 'Preparing'),
    running: statusTime(r.job, 'Running'),
    finalizing: statusTime(r.job, 'Finalizing'),
    ended: r.job.ended_at ?? Number.NaN,
    command: Number(m[1]) * 1000,
    envLine,
  };
}

interface SubmitPhase {
  samples: SubmitSample[];
  warmup: SubmitSample;
  codeFiles: number;
  otherCores: number;
  /** The task runner's start alone (interpreter + imports, exits at once on missing variables), ms. */
  runnerAloneMs: number[];
}

/** The runner's start-up without a server: `python -I -S lapis_task/__main__.py` with no LAPIS_* variables exits 2 right after its imports. */
async function runnerAlone(python: string, n: number): Promise<number[]> {
  const script = join(ROOT, 'python/lapis_task/__main__.py');
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = spawnSync(python, ['-I', '-S', script], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 30_000 });
    if (res.status !== 2) throw new Error(`the task runner alone exited ${res.status}, not 2: ${res.stderr}`);
    out.push(performance.now() - t0);
  }
  return out;
}

async function submitPhase(client: LapisClient, server: RunningServer, venvPython: string): Promise<{ phase: SubmitPhase; env: string }> {
  const code = join(WORK, 'code');
  mkdirSync(code, { recursive: true });
  writeFileSync(join(code, 'main.py'), MAIN_PY);
  const upload = await uploadContent(client, code, { log: (m) => log(`  ${m}`), progressBar: false });
  const env = await client.environments.create({ name: 'bench-venv', version: '1', description: 'Python 3.11, no pip packages', conda_file: { dependencies: ['python=3.11'] } });
  const envRef = `azureml:${env.name}:${env.version}`;
  const spec = { type: 'command', code: './code', command: 'python main.py', environment: envRef, experiment_name: 'bench-jobs-latency' };
  log(`  environment ${envRef} (conda_file: python=3.11, no pip packages); code ${upload.hash.slice(0, 12)} (${upload.files.length} file)`);

  log('  warm-up job (builds the venv)');
  const warmup = sampleOf(await runOne(client, spec, upload.hash));
  log(`    Preparing → Running ${fmt(warmup.running - warmup.preparing)} ms; ${warmup.envLine}`);
  if (!/built venv/.test(warmup.envLine)) log(`    note: the warm-up did not build the venv (${warmup.envLine || 'no environment line'})`);

  const runnerAloneMs = await runnerAlone(venvPython, CFG.runnerAloneRuns);
  log(`  task runner start-up alone (interpreter + imports): p50 ${fmt(median(runnerAloneMs), 1)} ms over ${runnerAloneMs.length} runs`);

  await waitForQuiet([server]);
  const meter = otherCoresMeter([server]);
  const samples: SubmitSample[] = [];
  log(`  ${OPTS.submits} timed jobs, one at a time`);
  for (let i = 0; i < OPTS.submits; i++) {
    const s = sampleOf(await runOne(client, spec, upload.hash));
    if (!/reused cached venv/.test(s.envLine)) throw new Error(`job ${s.name} did not reuse the cached venv: ${s.envLine || 'no environment line'}`);
    samples.push(s);
    if ((i + 1) % Math.max(1, Math.floor(OPTS.submits / 4)) === 0) {
      log(`    ${i + 1}/${OPTS.submits}: submit → Running p50 ${fmt(median(samples.map((x) => x.running - x.t0)))} ms so far`);
    }
    await sleep(CFG.settleMs);
  }
  return { phase: { samples, warmup, codeFiles: upload.files.length, otherCores: meter(), runnerAloneMs }, env: envRef };
}

// ---------------------------------------------------------------------------------------------
// Lapis: many jobs on two slots

interface ThroughputPhase {
  jobs: number;
  completed: number;
  statuses: Record<string, number>;
  firstError?: string;
  submitWallMs: number;
  /** First submit (client) → last end (server), ms. */
  wallMs: number;
  sumRunMs: number;
  runMs: number[];
  /** Preparing → Running, Running → Finalizing, Finalizing → end, per job. */
  prepareMs: number[];
  commandMs: number[];
  finalizeMs: number[];
  /** Slot handover: a start minus max(the end that freed its slot, its own Queued time). */
  handoverMs: number[];
  firstStartMs: number;
  otherCores: number;
  timedOut: boolean;
}

async function throughputPhase(client: LapisClient, server: RunningServer, envRef: string): Promise<ThroughputPhase> {
  const n = OPTS.jobs;
  const spec = { type: 'command', command: `python -c "import time; time.sleep(${CFG.sleepS})"`, environment: envRef, experiment_name: 'bench-jobs-throughput' };
  await waitForQuiet([server]);
  const meter = otherCoresMeter([server]);
  const names: string[] = new Array(n);
  const firstSubmit = Date.now();
  await pool(
    Array.from({ length: n }, (_, i) => i),
    CFG.submitConcurrency,
    async (i) => {
      names[i] = (await client.jobs.create(spec)).name;
    },
  );
  const submitWallMs = Date.now() - firstSubmit;
  log(`  ${n} jobs submitted in ${fmt(submitWallMs / 1000, 1)} s (${CFG.submitConcurrency} at a time)`);
  const want = new Set(names);
  const deadline = Date.now() + 60_000 + n * 3_000;
  let done: Job[] = [];
  let lastReport = Date.now();
  let timedOut = false;
  for (;;) {
    const jobs = (await client.jobs.list({ maxResults: 10_000 })).filter((j) => want.has(j.name));
    done = jobs.filter((j) => ['Completed', 'Failed', 'Canceled'].includes(j.status));
    if (done.length === n) break;
    if (Date.now() > deadline) {
      timedOut = true;
      log(`  gave up waiting: ${done.length}/${n} ended after ${fmt((Date.now() - firstSubmit) / 1000)} s`);
      break;
    }
    if (Date.now() - lastReport > 15_000) {
      lastReport = Date.now();
      log(`    ${done.length}/${n} ended after ${fmt((Date.now() - firstSubmit) / 1000)} s`);
    }
    await sleep(CFG.pollMs);
  }
  const otherCores = meter();
  const statuses: Record<string, number> = {};
  for (const j of done) statuses[j.status] = (statuses[j.status] ?? 0) + 1;
  const failed = done.find((j) => j.status !== 'Completed');
  const ends = done.map((j) => j.ended_at ?? Number.NaN);
  const starts = done.map((j) => statusTime(j, 'Preparing'));
  const runMs = done.map((j) => (j.ended_at ?? Number.NaN) - statusTime(j, 'Preparing'));
  const ok = done.filter((j) => j.status === 'Completed');
  const sortedEnds = [...ends].sort((a, b) => a - b);
  const byStart = [...done].sort((a, b) => statusTime(a, 'Preparing') - statusTime(b, 'Preparing'));
  const handoverMs: number[] = [];
  for (let k = CFG.slots; k < byStart.length; k++) {
    const j = byStart[k] as Job;
    const freed = sortedEnds[k - CFG.slots] as number;
    handoverMs.push(statusTime(j, 'Preparing') - Math.max(freed, statusTime(j, 'Queued')));
  }
  const result: ThroughputPhase = {
    jobs: n,
    completed: ok.length,
    statuses,
    submitWallMs,
    wallMs: Math.max(...ends) - firstSubmit,
    sumRunMs: sum(runMs),
    runMs,
    prepareMs: ok.map((j) => statusTime(j, 'Running') - statusTime(j, 'Preparing')),
    commandMs: ok.map((j) => statusTime(j, 'Finalizing') - statusTime(j, 'Running')),
    finalizeMs: ok.map((j) => (j.ended_at ?? Number.NaN) - statusTime(j, 'Finalizing')),
    handoverMs,
    firstStartMs: Math.min(...starts) - firstSubmit,
    otherCores,
    timedOut,
  };
  if (failed) result.firstError = `${failed.name} ${failed.status}: ${failed.error ?? ''}`;
  return result;
}

// ---------------------------------------------------------------------------------------------
// The peer: MLflow Projects

interface PeerSample {
  /** Spawn of `mlflow run` → the command's printed time.time(), ms. */
  commandMs: number;
  /** Spawn → the run's start_time on the tracking server (the run exists, status RUNNING), ms. */
  runStartMs: number;
  /** Spawn → `mlflow run` exited, ms. */
  exitMs: number;
}

interface PeerPhase {
  samples: PeerSample[];
  warmup: PeerSample;
  otherCores: number;
}

function mlflowRun(venv: string, trackingUri: string, project: string): Promise<{ t0: number; exitAt: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MLFLOW_') && !k.startsWith('LAPIS_')));
    Object.assign(env, {
      PATH: `${join(venv, 'bin')}:${process.env.PATH ?? ''}`,
      MLFLOW_TRACKING_URI: trackingUri,
      MLFLOW_DISABLE_TELEMETRY: 'true',
      DO_NOT_TRACK: 'true',
      PYTHONUNBUFFERED: '1',
    });
    const t0 = Date.now();
    const child: ChildProcess = spawn(join(venv, 'bin/mlflow'), ['run', project, '--env-manager', 'local', '--experiment-name', 'bench'], { cwd: WORK, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) peerGroups.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // gone
      }
    }, CFG.jobTimeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      const exitAt = Date.now();
      clearTimeout(timer);
      if (child.pid !== undefined) peerGroups.delete(child.pid);
      if (code === 0) resolvePromise({ t0, exitAt, stdout, stderr });
      else reject(new Error(`mlflow run exited with ${code ?? signal}:\n${stderr.slice(-3000)}`));
    });
  });
}

async function peerOne(venv: string, http: HttpClient, project: string): Promise<PeerSample> {
  const r = await mlflowRun(venv, http.url.origin, project);
  const m = new RegExp(`${MARK} ([0-9.]+)`).exec(r.stdout);
  if (!m) throw new Error(`mlflow run printed no ${MARK} line:\n${r.stdout.slice(0, 500)}\n${r.stderr.slice(-1500)}`);
  const id = /run with ID '([0-9a-f]+)'/.exec(r.stderr)?.[1] ?? /Run \(ID '([0-9a-f]+)'\)/.exec(r.stderr)?.[1];
  if (!id) throw new Error(`no run id in the output of mlflow run:\n${r.stderr.slice(-1500)}`);
  const run = await http.json<{ run: { info: { start_time: number; status: string } } }>('GET', `/api/2.0/mlflow/runs/get?run_id=${id}`);
  if (run.run.info.status !== 'FINISHED') throw new Error(`MLflow run ${id} is ${run.run.info.status}, not FINISHED`);
  return { commandMs: Number(m[1]) * 1000 - r.t0, runStartMs: Number(run.run.info.start_time) - r.t0, exitMs: r.exitAt - r.t0 };
}

async function peerPhase(venv: string): Promise<PeerPhase> {
  const dir = join(WORK, 'mlflow');
  const project = join(WORK, 'mlproject');
  mkdirSync(dir, { recursive: true });
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'MLproject'), 'name: bench\nentry_points:\n  main:\n    command: "python main.py"\n');
  writeFileSync(join(project, 'main.py'), MAIN_PY);
  const t0 = performance.now();
  const server = await startMlflow({ venv, dbPath: join(dir, 'mlflow.db'), artifactsDir: join(dir, 'artifacts'), logDir: dir });
  const http = new HttpClient(server.url, 2);
  try {
    log(`MLflow: healthy at ${server.url} after ${fmt((performance.now() - t0) / 1000, 1)} s; warm-up run (creates experiment 'bench')`);
    const warmup = await peerOne(venv, http, project);
    log(`  warm-up: spawn → command ${fmt(warmup.commandMs)} ms, → exit ${fmt(warmup.exitMs)} ms`);
    await waitForQuiet([server]);
    const meter = otherCoresMeter([server]);
    const samples: PeerSample[] = [];
    for (let i = 0; i < OPTS.peerRuns; i++) {
      samples.push(await peerOne(venv, http, project));
      await sleep(CFG.settleMs);
    }
    const otherCores = meter();
    log(`  ${samples.length} runs: spawn → run created p50 ${fmt(median(samples.map((s) => s.runStartMs)))} ms, → command p50 ${fmt(median(samples.map((s) => s.commandMs)))} ms, → exit p50 ${fmt(median(samples.map((s) => s.exitMs)))} ms; other load ${fmt(otherCores, 2)} cores`);
    return { samples, warmup, otherCores };
  } finally {
    http.close();
    killPeers();
    await server.stop();
    log('MLflow: stopped');
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  figure: string;
  lapis: string;
  peer: string;
  ratio: string;
  target: string;
  result: string;
}
const HEAD: Row = { figure: 'figure', lapis: 'Lapis', peer: 'MLflow Projects', ratio: 'ratio', target: 'target', result: 'result' };
const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
const times = (x: number): string => (Number.isFinite(x) ? `${x >= 100 ? fmt(x) : fmt(x, 1)}×` : '');
const pct = (x: number): string => `${fmt(x * 100, 1)} %`;

interface Figures {
  running: number[];
  command: number[];
  prepare: number[];
  post: number[];
  toQueued: number[];
  queuedToPreparing: number[];
  runningToCommand: number[];
  /** The command printed its line and exited at once: its first line → Finalizing is mostly the runner noticing the exit. */
  commandToFinalizing: number[];
  peerRunStart: number[];
  peerCommand: number[];
  peerExit: number[];
  idealMs: number;
  overheadMs: number;
  overheadShare: number;
  pureMs: number;
  e2eShare: number;
}

function figures(s: SubmitPhase, t: ThroughputPhase, p: PeerPhase | undefined): Figures {
  const x = s.samples;
  const idealMs = t.sumRunMs / CFG.slots;
  const pureMs = (t.jobs * CFG.sleepS * 1000) / CFG.slots;
  return {
    running: x.map((a) => a.running - a.t0),
    command: x.map((a) => a.command - a.t0),
    prepare: x.map((a) => a.running - a.preparing),
    post: x.map((a) => a.postMs),
    toQueued: x.map((a) => a.queued - a.t0),
    queuedToPreparing: x.map((a) => a.preparing - a.queued),
    runningToCommand: x.map((a) => a.command - a.running),
    commandToFinalizing: x.map((a) => a.finalizing - a.command),
    peerRunStart: p?.samples.map((a) => a.runStartMs) ?? [],
    peerCommand: p?.samples.map((a) => a.commandMs) ?? [],
    peerExit: p?.samples.map((a) => a.exitMs) ?? [],
    idealMs,
    overheadMs: t.wallMs - idealMs,
    overheadShare: (t.wallMs - idealMs) / idealMs,
    pureMs,
    e2eShare: (t.wallMs - pureMs) / pureMs,
  };
}

function rows(t: ThroughputPhase, f: Figures): { rows: Row[]; failed: string[] } {
  const ms = (v: number): string => fmt(v);
  const hasPeer = f.peerCommand.length > 0;
  const peer = (v: number): string => (hasPeer ? ms(v) : 'not run');
  const ratio = (peerV: number, lapisV: number): string => (hasPeer ? times(peerV / lapisV) : '');
  const okP50 = median(f.running) <= TARGETS.runningP50Ms;
  const okP99 = p99(f.running) <= TARGETS.runningP99Ms;
  const okPrepare = max(f.prepare) <= TARGETS.cachedPrepareMs;
  const okAll = t.completed === t.jobs && !t.timedOut;
  const okOverhead = okAll && f.overheadShare <= TARGETS.overheadShare;
  const failed: string[] = [];
  if (!okP50 || !okP99) failed.push('submit-to-running');
  if (!okAll || !okOverhead) failed.push('throughput');
  if (!okPrepare) failed.push('cached environment');
  const n = t.jobs;
  return {
    failed,
    rows: [
      { figure: 'submit → Running, p50 ms', lapis: ms(median(f.running)), peer: peer(median(f.peerRunStart)), ratio: ratio(median(f.peerRunStart), median(f.running)), target: `≤ ${TARGETS.runningP50Ms} ms`, result: pass(okP50) },
      { figure: 'submit → Running, p99 ms', lapis: ms(p99(f.running)), peer: peer(p99(f.peerRunStart)), ratio: ratio(p99(f.peerRunStart), p99(f.running)), target: `≤ ${TARGETS.runningP99Ms} ms`, result: pass(okP99) },
      { figure: "submit → command's first line, p50 ms", lapis: ms(median(f.command)), peer: peer(median(f.peerCommand)), ratio: ratio(median(f.peerCommand), median(f.command)), target: '', result: '' },
      { figure: "submit → command's first line, p99 ms", lapis: ms(p99(f.command)), peer: peer(p99(f.peerCommand)), ratio: ratio(p99(f.peerCommand), p99(f.command)), target: '', result: '' },
      { figure: 'Preparing → Running, cached venv, p50 ms', lapis: ms(median(f.prepare)), peer: '', ratio: '', target: '', result: '' },
      { figure: 'Preparing → Running, cached venv, max ms', lapis: ms(max(f.prepare)), peer: '', ratio: '', target: `≤ ${fmt(TARGETS.cachedPrepareMs)} ms`, result: pass(okPrepare) },
      { figure: `${n} × ${CFG.sleepS} s jobs on ${CFG.slots} slots: Completed`, lapis: `${t.completed}/${n}`, peer: '', ratio: '', target: 'all', result: pass(okAll) },
      { figure: '… first submit → last end, s', lapis: fmt(t.wallMs / 1000, 1), peer: '', ratio: '', target: '', result: '' },
      { figure: `… Σ run time / ${CFG.slots} slots, s`, lapis: fmt(f.idealMs / 1000, 1), peer: '', ratio: '', target: '', result: '' },
      { figure: '… scheduler overhead, % of Σrun/2', lapis: pct(f.overheadShare), peer: '', ratio: '', target: `≤ ${pct(TARGETS.overheadShare)}`, result: pass(okOverhead) },
      { figure: `… overhead vs ${n} × ${CFG.sleepS} s / ${CFG.slots} of commands, %`, lapis: pct(f.e2eShare), peer: '', ratio: '', target: '', result: '' },
    ],
  };
}

type Machine = Host & { python: string; mlflow: string };

const dist = (xs: readonly number[], digits = 0): string => `p50 ${fmt(median(xs), digits)}, p99 ${fmt(p99(xs), digits)}, max ${fmt(max(xs), digits)}`;

function docsSection(mc: Machine, table: Row[], s: SubmitPhase, t: ThroughputPhase, p: PeerPhase | undefined, f: Figures, totalS: number, buildNote: string): string {
  const n = t.jobs;
  const peerText = p
    ? `\`mlflow run <dir> --env-manager local --experiment-name bench\` (MLflow ${mc.mlflow} from the same virtualenv, its \`python\` first on PATH), tracking to an \`mlflow server\` on SQLite; the MLproject's entry point is \`python main.py\`, the same script. One warm-up run, then ${p.samples.length} runs one at a time, each timed from the bench's \`Date.now()\` just before spawning \`mlflow run\`: to the run's \`start_time\` (MLflow creates the run, status RUNNING, before it starts the command: its counterpart of Running), to the printed timestamp, and to its exit (p50 ${fmt(median(f.peerExit))} ms). Ratios are MLflow/Lapis (> 1× favours Lapis).`
    : 'not run (`--no-peer`).';
  return `## Jobs (${mc.date})

\`npm run bench:jobs\` (builds Lapis first; about ${fmt(Math.max(1, totalS / 60))} min; \`-- --no-build\`, \`--no-write\` to only print, \`--submits N\`, \`--peer-runs N\`, \`--jobs N\` for a shorter run, \`--no-peer\`).
${machineLine(mc, `Python ${mc.python}, MLflow ${mc.mlflow}`)}
Whole bench: ${fmt(totalS / 60, 1)} min. Load average before it: ${fmt(mc.loadBefore, 2)}; CPU used by other processes during the timed phases, in cores: submit-to-running ${fmt(s.otherCores, 2)}, MLflow Projects ${p ? fmt(p.otherCores, 2) : 'n/a'}, ${n} jobs ${fmt(t.otherCores, 2)}.${buildNote ? `\nNote: ${buildNote}.` : ''}

${markdownTable(HEAD, table)}

Azure ML, the other peer, cannot run here (it needs an Azure subscription and its cloud compute), so it was not measured.

- **Server**: \`lapis server\` on SQLite with \`LAPIS_LOCAL_SLOTS=${CFG.slots}\`, \`LAPIS_PYTHON\` = the Python ${mc.python} of the cached virtualenv of \`scripts/python-test-env.sh\` (the one with mlflow), \`LAPIS_JOB_CACHE\` a fresh folder; the client is the typed TypeScript client (\`src/client\`) over loopback, in the bench process.
- **Submit-to-running**: an environment asset with \`conda_file: {dependencies: [python=3.11]}\` (a venv without pip packages), a ${s.codeFiles}-file code folder uploaded once (\`uploadContent\`), command \`python main.py\`, whose first act is printing \`time.time()\`. One warm-up job built the venv (\`python -m venv --without-pip\`: the runner skips pip for an empty list; Preparing → Running ${fmt(s.warmup.running - s.warmup.preparing)} ms); then ${s.samples.length} jobs, each submitted with \`client.jobs.create\` after the previous one ended (followed through the server's live log stream, no polling) and a ${CFG.settleMs} ms pause; every one logged \`reused cached venv\`. Submit-to-running = \`status_times.Running\` − the client's \`Date.now()\` just before \`POST /api/v1/jobs\`; the command's start is its printed time, read from \`GET /api/v1/jobs/<name>/logs\`. Same clock throughout (one machine). p99 is nearest-rank.
  Where the time goes (medians, ms): POST answered ${fmt(median(f.post), 1)} (the job is Queued ${fmt(median(f.toQueued))} after the client's clock read); Queued → Preparing (the scheduler claims it and spawns the task runner) ${fmt(median(f.queuedToPreparing))}; Preparing → Running (the runner starts, fetches its task, checks the cached venv, copies the code, reports Running) ${fmt(median(f.prepare))}; Running → the command's first line (bash, the venv's Python) ${fmt(median(f.runningToCommand))}; and after it, that line → Finalizing (the command exits at once; the runner polls for its exit every 100 ms) ${fmt(median(f.commandToFinalizing))}. The runner's own start-up (\`python -I -S lapis_task/__main__.py\`, exiting right after its imports) takes ${fmt(median(s.runnerAloneMs))} ms alone. Distributions: submit → Running ${dist(f.running)}; → command ${dist(f.command)}; Preparing → Running ${dist(f.prepare)} ms.
- **Peer, MLflow Projects**: ${peerText}
- **${n} jobs on ${CFG.slots} slots**: command \`python -c "import time; time.sleep(${CFG.sleepS})"\` with the same cached venv environment, no code; all ${n} submitted ${CFG.submitConcurrency} at a time (in ${fmt(t.submitWallMs / 1000, 1)} s), then \`GET /api/v1/jobs\` every ${CFG.pollMs / 1000} s until all ended (bounded). A job's run time is Preparing → its end (\`ended_at\`), from the server's timestamps: ${dist(t.runMs)} ms, of which Preparing → Running p50 ${fmt(median(t.prepareMs))} ms, Running → Finalizing p50 ${fmt(median(t.commandMs))} ms (the ${CFG.sleepS} s command), Finalizing → end p50 ${fmt(median(t.finalizeMs))} ms. Scheduler overhead = wall − Σrun/${CFG.slots}: slot time not spent running a job while jobs waited = ${fmt(f.overheadMs / 1000, 2)} s of ${fmt(t.wallMs / 1000, 1)} s, including the first start ${fmt(t.firstStartMs)} ms after the first submit and the two slots ending unevenly. Slot handover (a job's Preparing − max(the end that freed its slot, its Queued time)): ${dist(t.handoverMs)} ms. End-to-end against the pure command time (${n} × ${CFG.sleepS} s / ${CFG.slots} = ${fmt(f.pureMs / 1000)} s): +${pct(f.e2eShare)}, i.e. every job costs ${fmt(mean(t.runMs) - CFG.sleepS * 1000)} ms of runner, interpreter and reporting on top of its command.${t.firstError ? ` First job that did not complete: ${t.firstError}.` : ''}
- Before each timed phase the bench waits up to ${CFG.quiet.maxWaitMs / 1000} s for other processes to use less than ${CFG.quiet.otherCores} cores; the MLflow server ran before Lapis, never both at once.
`;
}

// ---------------------------------------------------------------------------------------------
// Main

async function pythonEnv(): Promise<{ venv: string; python: string; mlflow: string }> {
  log('Python venv: bash scripts/python-test-env.sh');
  const venv = (await run('bash', ['scripts/python-test-env.sh'])).split('\n').pop() as string;
  const info = sh(join(venv, 'bin/python'), ['-c', 'import sys, importlib.metadata as m; print(sys.version.split()[0]); print(m.version("mlflow"))']).split('\n');
  return { venv, python: info[0] ?? '?', mlflow: info[1] ?? '?' };
}

let lapisServer: RunningServer | undefined;

async function main(): Promise<void> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  let buildNote = '';
  if (OPTS.build) {
    log('Building Lapis (npm run build)');
    try {
      sh('npm', ['run', 'build']);
    } catch (err) {
      // tsc still emits on type errors: files other engineers are editing may fail to type-check.
      const errors = (err as Error).message.split('\n').filter((l) => /error TS/.test(l));
      if (errors.length === 0 || !existsSync(join(ROOT, 'dist/cli/main.js'))) throw err;
      buildNote = `npm run build reported ${errors.length} type error(s) (${[...new Set(errors.map((l) => l.split('(')[0]))].join(', ')}); tsc emitted dist/ anyway and the bench used it`;
      log(`  note: ${buildNote}`);
    }
  }
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/cli/main.js is missing: run npm run build');
  const py = await pythonEnv();
  const machine: Machine = { ...machineInfo(ROOT), python: py.python, mlflow: py.mlflow };
  log(`Machine: ${machine.cores} cores, ${fmt(machine.ramGiB, 1)} GiB, Node ${machine.node}, Python ${machine.python}, MLflow ${machine.mlflow}; load average ${fmt(machine.loadBefore, 2)}`);

  let peer: PeerPhase | undefined;
  if (OPTS.peer) {
    log(`MLflow Projects: ${OPTS.peerRuns} timed \`mlflow run --env-manager local\` after one warm-up`);
    peer = await peerPhase(py.venv);
  }

  const python = join(py.venv, 'bin/python');
  lapisServer = await startLapis({
    root: ROOT,
    dataDir: join(WORK, 'lapis'),
    logDir: WORK,
    env: { LAPIS_PYTHON: python, LAPIS_LOCAL_SLOTS: String(CFG.slots), LAPIS_JOB_CACHE: CACHE },
  });
  const server = lapisServer;
  const client = new LapisClient({ url: server.url });
  log(`Lapis: listening at ${server.url} (pid ${server.pid}), ${CFG.slots} local slots, LAPIS_PYTHON ${python}`);
  log('Lapis: submit-to-running with a cached venv environment');
  const { phase: submit, env } = await submitPhase(client, server, python);
  const pre = (xs: number[]): string => `p50 ${fmt(median(xs))} / p99 ${fmt(p99(xs))} / max ${fmt(max(xs))} ms`;
  log(`  submit → Running ${pre(submit.samples.map((x) => x.running - x.t0))}; → command ${pre(submit.samples.map((x) => x.command - x.t0))}; Preparing → Running ${pre(submit.samples.map((x) => x.running - x.preparing))}; other load ${fmt(submit.otherCores, 2)} cores`);
  log(`Lapis: ${OPTS.jobs} jobs of ${CFG.sleepS} s on ${CFG.slots} slots`);
  const throughput = await throughputPhase(client, server, env);
  log(
    `  ${throughput.completed}/${throughput.jobs} Completed (${JSON.stringify(throughput.statuses)}); wall ${fmt(throughput.wallMs / 1000, 1)} s, Σrun/${CFG.slots} ${fmt(throughput.sumRunMs / CFG.slots / 1000, 1)} s; ` +
      `handover p50 ${fmt(median(throughput.handoverMs))} ms; other load ${fmt(throughput.otherCores, 2)} cores`,
  );
  if (throughput.firstError) log(`  first failure: ${throughput.firstError}`);
  await server.stop();
  lapisServer = undefined;
  killJobProcesses();
  log('Lapis: stopped');

  const f = figures(submit, throughput, peer);
  const { rows: table, failed } = rows(throughput, f);
  const totalS = (performance.now() - started) / 1000;
  console.log(`\n${textTable(HEAD, table)}\n`);
  console.log(
    `Submit → Running, medians in ms: POST answered ${fmt(median(f.post), 1)}; Queued → Preparing ${fmt(median(f.queuedToPreparing))}; Preparing → Running ${fmt(median(f.prepare))} ` +
      `(runner start-up alone ${fmt(median(submit.runnerAloneMs))}); Running → command ${fmt(median(f.runningToCommand))}; command → Finalizing ${fmt(median(f.commandToFinalizing))}.`,
  );
  console.log(failed.length ? `Missed targets: ${failed.join(', ')}.` : 'Every target met.');
  console.log('Azure ML cannot run on this machine: not measured.');
  console.log(`Whole bench: ${fmt(totalS / 60, 1)} min.`);
  writeFileSync(join(WORK, 'results.json'), JSON.stringify({ machine, config: CFG, opts: OPTS, figures: f, submit, throughput, peer }, null, 2));
  if (OPTS.write) {
    writeDocsSection(DOCS, 'Jobs', docsSection(machine, table, submit, throughput, peer, f, totalS, buildNote));
    log(`Wrote the ## Jobs section of ${DOCS}`);
  }
}

async function shutdown(): Promise<void> {
  killPeers();
  // Runners first, so none reports to a server that is going away (they would retry for minutes).
  killJobProcesses();
  await stopAll();
  killJobProcesses();
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) return;
  interrupted = true;
  console.error('\nInterrupted: stopping servers and job processes');
  void shutdown().finally(() => process.exit(130));
});
process.on('exit', () => {
  killPeers();
  killJobProcesses();
  killAllNow();
});

main().then(
  async () => {
    await shutdown();
    log(`Logs and results.json are in ${WORK}`);
  },
  async (err: unknown) => {
    if (interrupted) return;
    console.error(`\nBenchmark failed: ${(err as Error).stack ?? String(err)}`);
    if (lapisServer) console.error(`Lapis log tail:\n${lapisServer.tail()}`);
    await shutdown();
    console.error(`Logs: ${WORK}`);
    process.exitCode = 1;
  },
);
