/**
 * Serving benchmark: Lapis online endpoints (Python scoring hosts behind the Node router) against
 * MLflow's scoring server (`mlflow models serve --env-manager local`), one after the other on this
 * machine, on the same model files and the same single-row request. See docs/benchmarks.md
 * (## Serving).
 *
 *  1. Model: scikit-learn LogisticRegression on iris, logged and registered by the real mlflow client
 *     against the Lapis server (bench/serving/register.py, as test/integration/serving.test.ts does),
 *     then downloaded with the mlflow client (models:/iris-lr/<v>): those files are what
 *     `mlflow models serve -m <dir>` serves, from the same virtualenv.
 *  2. Throughput of the no-code (pyfunc) path: one-row requests, closed loop with 1, 4 and 8
 *     keep-alive clients (`--requests` per level after a warm-up), against a deployment with
 *     instance_count 2 and max_concurrent_requests_per_instance 4 (2 × 4 slots ≥ 8 clients: no 429;
 *     every status is counted anyway). Bodies: Azure's `input_data` split and MLflow's
 *     `dataframe_split` through `POST /endpoints/<e>/score` with the endpoint key; MLflow gets the
 *     same `dataframe_split` body at `POST /invocations`. The same levels straight to the two scoring
 *     hosts' loopback ports (no router), and through a score.py deployment (environment
 *     {image: python:3.11-slim}: the host's Python, the test venv) pinned with azureml-model-deployment.
 *  3. Router overhead: one client, requests through the router, straight to a scoring host's HTTP
 *     and straight to the host as the router calls it (frames, with the router's own FramePool),
 *     interleaved one for one (`--pairs` rounds); p50 via router − p50 direct (HTTP: what a caller
 *     without the router gets), and against frames the router's own cost. The hosts' ports come
 *     from their "listening on http://127.0.0.1:<port> (pid N" log lines (GET .../logs), matched to
 *     the instances' pids (GET .../deployments/<d>): the API does not expose them.
 *  4. Where the time goes: CPU per request of the router (the Lapis node process), the scoring hosts
 *     and the load generator, from /proc over each level; and bench/serving/profile_host.py, which
 *     calls the host's scorers and MLflow's `invocations()` in a loop without HTTP (per-call medians
 *     and a cProfile of the no-code scorer). `--profile` also CPU-profiles the Lapis server (node
 *     --cpu-prof) over an extra 8-client run.
 *
 *  5. The ONNX path: the model packaged by `lapis model package` (a real job), deployed with no code
 *     on the in-process ONNX runtime, closed-loop levels of 1–32 clients through the router, then an
 *     open loop at half of the highest throughput reached.
 *
 * Targets (from the issue): no-code throughput ≥ 2× `mlflow models serve` at an equal or lower p99,
 * read at 8 clients where both servers are CPU-bound; the router adds ≤ 0.3 ms to p50; the ONNX path
 * ≥ 10× `mlflow models serve`'s highest throughput, with p99 ≤ 5 ms at half of its own highest.
 *
 *   npm run bench:serving [-- --no-build] [--no-write] [--requests N] [--pairs N] [--profile]
 *                         [--onnx-requests N] [--onnx-workers N] [--onnx-rate N] [--overhead-only] [--onnx-only]
 *
 * `--overhead-only` measures the router overhead alone (about a minute; nothing written), with
 * `--profile` under node --cpu-prof: for work on the router's latency. `--onnx-only` runs the ONNX
 * phase alone (about a minute; nothing written; `--profile` profiles the server meanwhile), and
 * `--onnx-rate N` runs its open loop at N req/s instead of half the highest throughput: for
 * comparing changes to the ONNX path at one rate.
 *
 * Loopback only; every loop and wait is bounded; the servers (Lapis's scoring processes are its
 * children, in its process group, stopped with it) and every Python helper are stopped on every exit
 * path, SIGINT included.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LapisClient } from '../../src/client/index.js';
import type { OnlineDeployment } from '../../src/client/serving.js';
import { FramePool } from '../../src/serving/frames.js';
import { TERMINAL_JOB_STATUSES } from '../../src/client/jobs.js';
import { uploadContent } from '../../src/client/upload.js';
import { HttpClient, sleep } from '../lib/http.js';
import { closedLoop, openLoop, percentile, type Call, type ClosedLoopResult, type OpenLoopResult } from '../lib/load.js';
import { machineBusySeconds, processTree } from '../lib/proc.js';
import { topSelfTime, type SelfTime } from '../lib/profile.js';
import { machineInfo, machineLine, type Machine as Host } from '../lib/machine.js';
import { markdownTable, textTable, writeDocsSection } from '../lib/report.js';
import { killAllNow, startLapis, startMlflowModelServer, stopAll, type RunningServer } from '../lib/servers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = dirname(fileURLToPath(import.meta.url));
const WORK = join(ROOT, 'bench/.work/serving');
/** Where the server's CPU profiles go under --profile. */
const PROFILE_DIR = join(WORK, 'profile');
const DOCS = join(ROOT, 'docs/benchmarks.md');
/** The integration test's cache: the no-code deployment's environment (built from the model's requirements) is already there. */
const CACHE = join(homedir(), '.cache', 'lapis', 'serving-test-cache');

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
  profile: flag('--profile'),
  overheadOnly: flag('--overhead-only'),
  onnxOnly: flag('--onnx-only'),
  requests: intOption('--requests', 2000, 200, 100_000),
  pairs: intOption('--pairs', 2000, 100, 100_000),
  onnxRequests: intOption('--onnx-requests', 20_000, 1_000, 1_000_000),
  onnxWorkers: intOption('--onnx-workers', 2, 1, 16),
  /** The open loop's rate, req/s, instead of half of the highest ONNX throughput (0): for comparing changes at one rate. */
  onnxRate: intOption('--onnx-rate', 0, 0, 1_000_000),
};

const CFG = {
  endpoint: 'bench-ep',
  instances: 2,
  /** Per instance: 2 × 4 slots ≥ the 8 clients of the highest level, so the router never answers 429. */
  maxConcurrent: 4,
  requestTimeoutMs: 5_000,
  concurrencies: [1, 4, 8],
  /** The ONNX path goes on past 8 clients: it is far from CPU-bound there. */
  onnxConcurrencies: [1, 4, 8, 16, 32],
  onnxInstances: 1,
  /** Seconds of the open-loop run at half of the ONNX path's highest throughput. */
  openLoopSeconds: 10,
  packageTimeoutMs: 900_000,
  warmup: 300,
  deployTimeoutMs: 900_000,
  hostProfileCalls: 3_000,
  idleWindowMs: 5_000,
  /** Before each level: wait (bounded) for other load to drop; a level measured under more than `otherCores` anyway is measured again, at most `retries` times. */
  quiet: { maxWaitMs: 30_000, otherCores: 0.3, retries: 2 },
};
const TARGETS = { throughputRatio: 2, routerAddedP50Ms: 0.3, onnxRatio: 10, onnxHalfLoadP99Ms: 5 };

const COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const ROW = [5.1, 3.5, 1.4, 0.2];
const SPLIT = { columns: COLUMNS, index: [0], data: [ROW] };
const BODIES = { input_data: { input_data: SPLIT }, dataframe_split: { dataframe_split: SPLIT } } as const;
type Shape = keyof typeof BODIES;
/** What each answer must be: the class of ROW (setosa). */
const EXPECTED: Record<string, string> = { azure: '[0]', mlflow: '{"predictions": [0]}', script: '{"predictions": [0]}', onnx: '[0]' };

// ---------------------------------------------------------------------------------------------
// Small helpers

const started = performance.now();
const log = (msg: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}`);
const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const median = (xs: readonly number[]): number => percentile(xs, 50);
const times = (x: number): string => (Number.isFinite(x) ? `${fmt(x, x < 10 ? 2 : 1)}×` : 'n/a');

function sh(cmd: string, argv: string[]): string {
  const res = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (res.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${res.status}):\n${res.stderr || res.stdout}`);
  return res.stdout.trim();
}

/** Python helpers, in their own process groups, killed on every exit path. */
const helperGroups = new Set<number>();
function killHelpers(): void {
  for (const pgid of helperGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  helperGroups.clear();
}

/** Runs a command (bounded by `timeoutMs`) and resolves with its stdout; stderr is kept for the error message. */
function run(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 600_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child: ChildProcess = spawn(cmd, argv, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pgid = child.pid;
    if (pgid !== undefined) helperGroups.add(pgid);
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      if (pgid !== undefined) process.kill(-pgid, 'SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (pgid !== undefined) helperGroups.delete(pgid);
      if (code === 0) resolvePromise(out.trim());
      else reject(new Error(`${cmd} ${argv.slice(0, 2).join(' ')} exited with ${code ?? signal}:\n${err.slice(-3000)}`));
    });
  });
}

const pythonEnvVars = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MLFLOW_') && !k.startsWith('LAPIS_'))),
  MLFLOW_DISABLE_TELEMETRY: 'true',
  DO_NOT_TRACK: 'true',
  ...extra,
});

// ---------------------------------------------------------------------------------------------
// CPU accounting

/** utime + stime (or stime alone) of one process, its threads included, not its children, in seconds; 0 once gone. */
function ownCpuSeconds(pid: number, kernelOnly = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((kernelOnly ? 0 : Number(f[11])) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * Named groups of processes whose CPU is read over a window. A name ending in `.sys` reads only the
 * kernel time of its processes (a share of another part's, so left out of every sum).
 */
type Parts = Record<string, readonly number[]>;
const isShare = (name: string): boolean => name.endsWith('.sys');
const sumParts = (x: Record<string, number>): number =>
  Object.entries(x)
    .filter(([k]) => !isShare(k))
    .reduce((n, [, v]) => n + v, 0);

interface CpuWindow {
  wallS: number;
  /** CPU seconds of each part over the window. */
  parts: Record<string, number>;
  client: number;
  /** Cores used by everything else on the machine. */
  otherCores: number;
}

function cpuMeter(parts: Parts): () => CpuWindow {
  const read = (): Record<string, number> => Object.fromEntries(Object.entries(parts).map(([k, pids]) => [k, pids.reduce((n, p) => n + ownCpuSeconds(p, isShare(k)), 0)]));
  const t0 = performance.now();
  const p0 = read();
  const m0 = machineBusySeconds();
  const c0 = process.cpuUsage();
  return () => {
    const wallS = (performance.now() - t0) / 1000;
    const p1 = read();
    const c = process.cpuUsage(c0);
    const client = (c.user + c.system) / 1e6;
    const used = Object.fromEntries(Object.keys(p1).map((k) => [k, (p1[k] ?? 0) - (p0[k] ?? 0)]));
    const own = sumParts(used) + client;
    return { wallS, parts: used, client, otherCores: Math.max(0, machineBusySeconds() - m0 - own) / wallS };
  };
}

interface LoopWindow {
  /** The server's event-loop delay over the window (prom-client's monitorEventLoopDelay at a 10 ms resolution, reset at each scrape), ms. */
  lagP99: number;
  lagMax: number;
  /** Its garbage collections by kind: count and total ms. */
  gc: Record<string, { n: number; ms: number }>;
  /** Requests answered per ONNX Runtime run of the onnx deployment over the window (NaN when it ran nothing). */
  requestsPerRun: number;
}

/**
 * The Lapis server's own view of a window, from two scrapes of its /metrics: its event loop's delay,
 * its GC pauses and how many requests each ONNX Runtime run answered. Tells a stall in the server
 * from one in the load generator or the kernel.
 */
async function serverLoopMeter(http: HttpClient): Promise<() => Promise<LoopWindow>> {
  const scrape = async (): Promise<string> => {
    const res = await http.request('GET', '/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics -> HTTP ${res.status}`);
    return res.body.toString('utf8');
  };
  const value = (text: string, name: string): number => Number(new RegExp(`^lapis_${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  const gc = (text: string): Record<string, { n: number; ms: number }> => {
    const out: Record<string, { n: number; ms: number }> = {};
    for (const m of text.matchAll(/^lapis_nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} (\S+)/gm)) {
      const k = (out[m[2] as string] ??= { n: 0, ms: 0 });
      if (m[1] === 'sum') k.ms = Number(m[3]) * 1000;
      else k.n = Number(m[3]);
    }
    return out;
  };
  // The onnx deployment's runs and the requests they answered (src/serving/stats.ts).
  const runs = (text: string): [number, number] => ['model_runs_total', 'model_run_requests_total'].map((n) => Number(new RegExp(`^lapis_endpoint_${n}\\{endpoint="${CFG.endpoint}",deployment="onnx"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)) as [number, number];
  const first = await scrape(); // also resets the event-loop histogram
  const before = gc(first);
  const runs0 = runs(first);
  return async () => {
    const text = await scrape();
    const after = gc(text);
    const runs1 = runs(text);
    const diff = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, { n: v.n - (before[k]?.n ?? 0), ms: v.ms - (before[k]?.ms ?? 0) }]).filter(([, v]) => (v as { n: number }).n > 0));
    const ran = runs1[0] - runs0[0];
    return { lagP99: value(text, 'nodejs_eventloop_lag_p99_seconds') * 1000, lagMax: value(text, 'nodejs_eventloop_lag_max_seconds') * 1000, gc: diff, requestsPerRun: ran > 0 ? (runs1[1] - runs0[1]) / ran : Number.NaN };
  };
}

const loopLine = (w: LoopWindow): string =>
  `server event-loop delay (the period of a 10 ms timer) p99 ${fmt(w.lagP99, 1)} ms, max ${fmt(w.lagMax, 1)} ms; server GC ${Object.entries(w.gc)
    .map(([k, v]) => `${k} ${v.n}× ${fmt(v.ms, 0)} ms`)
    .join(', ') || 'none'}${Number.isNaN(w.requestsPerRun) ? '' : `; ${fmt(w.requestsPerRun, 2)} requests per ONNX Runtime run`}`;

/** Waits (bounded) for a 1-second window in which other processes use less than CFG.quiet.otherCores. */
async function waitForQuiet(parts: Parts): Promise<number> {
  const t0 = performance.now();
  let other = Infinity;
  while (performance.now() - t0 < CFG.quiet.maxWaitMs) {
    const meter = cpuMeter(parts);
    await sleep(1_000);
    other = meter().otherCores;
    if (other < CFG.quiet.otherCores) {
      if (performance.now() - t0 > 1_500) log(`    (waited ${fmt((performance.now() - t0) / 1000)} s for other processes to calm down)`);
      return other;
    }
  }
  log(`    note: other processes kept ${fmt(other, 2)} cores busy; measuring anyway`);
  return other;
}

// ---------------------------------------------------------------------------------------------
// Load levels

/** Where a level's requests go: one HTTP client per target, the clients spread over them in turn. */
interface Target {
  http: HttpClient;
  call: Call;
}

interface Level {
  /** Through the router, straight to the scoring hosts, or MLflow. */
  side: 'lapis' | 'direct' | 'mlflow';
  path: 'nocode' | 'script' | 'onnx';
  shape: Shape;
  concurrency: number;
  requests: number;
  wallMs: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  statuses: Record<number, number>;
  firstError?: string;
  /** CPU milliseconds per request of each part (router, hosts, mlflow) and of the load generator. */
  cpuMsPerRequest: Record<string, number>;
  otherCores: number;
}

function callsFor(n: number, concurrency: number, targets: readonly Target[]): { target: Target; calls: Call[] }[] {
  return Array.from({ length: concurrency }, (_, i) => {
    const target = targets[i % targets.length] as Target;
    const count = Math.floor(n / concurrency) + (i < n % concurrency ? 1 : 0);
    return { target, calls: Array.from({ length: count }, () => target.call) };
  });
}

/** Closed loop: `concurrency` clients at once, split over the targets, `n` requests in all. */
async function load(targets: readonly Target[], concurrency: number, n: number): Promise<ClosedLoopResult> {
  const clients = callsFor(n, concurrency, targets);
  const started0 = performance.now();
  const results = await Promise.all(targets.map((t) => closedLoop(t.http, clients.filter((c) => c.target === t).map((c) => c.calls))));
  const merged: ClosedLoopResult = { wallMs: performance.now() - started0, requests: 0, errors: 0, latencies: [], statuses: {} };
  for (const r of results) {
    merged.requests += r.requests;
    merged.errors += r.errors;
    merged.latencies.push(...r.latencies);
    for (const [s, k] of Object.entries(r.statuses)) merged.statuses[Number(s)] = (merged.statuses[Number(s)] ?? 0) + k;
    if (r.firstError !== undefined) merged.firstError ??= r.firstError;
  }
  return merged;
}

/** Checks one answer of each target against the expected prediction. */
async function checkAnswers(targets: readonly Target[], expected: string): Promise<void> {
  for (const t of targets) {
    const res = await t.http.request(t.call.method, t.call.path, t.call.body, 30_000, t.call.headers);
    const text = res.body.toString('utf8');
    if (res.status !== 200 || JSON.stringify(JSON.parse(text)) !== JSON.stringify(JSON.parse(expected))) throw new Error(`${t.http.url.origin}${t.call.path} answered HTTP ${res.status}: ${text.slice(0, 300)} (expected ${expected})`);
  }
}

async function level(meta: Pick<Level, 'side' | 'path' | 'shape'>, targets: readonly Target[], concurrency: number, parts: Parts, requests = OPTS.requests): Promise<Level> {
  for (let attempt = 0; ; attempt++) {
    const out = await levelOnce(meta, targets, concurrency, parts, requests);
    if (out.otherCores <= CFG.quiet.otherCores || attempt >= CFG.quiet.retries) return out;
    log(`      other processes used ${fmt(out.otherCores, 2)} cores during that level: measuring it again`);
  }
}

async function levelOnce(meta: Pick<Level, 'side' | 'path' | 'shape'>, targets: readonly Target[], concurrency: number, parts: Parts, requests: number): Promise<Level> {
  await load(targets, concurrency, Math.max(CFG.warmup, concurrency * 20));
  await waitForQuiet(parts);
  const meter = cpuMeter(parts);
  const r = await load(targets, concurrency, requests);
  const cpu = meter();
  const per = (s: number): number => (s * 1000) / r.requests;
  const out: Level = {
    ...meta,
    concurrency,
    requests: r.requests,
    wallMs: r.wallMs,
    rps: (r.requests - r.errors) / (r.wallMs / 1000),
    p50: percentile(r.latencies, 50),
    p99: percentile(r.latencies, 99),
    max: r.latencies.length ? Math.max(...r.latencies) : Number.NaN,
    errors: r.errors,
    statuses: r.statuses,
    cpuMsPerRequest: { ...Object.fromEntries(Object.entries(cpu.parts).map(([k, s]) => [k, per(s)])), client: per(cpu.client) },
    otherCores: cpu.otherCores,
  };
  if (r.firstError !== undefined) out.firstError = r.firstError;
  const cpuText = Object.entries(out.cpuMsPerRequest)
    .map(([k, v]) => `${k} ${fmt(v, 3)}`)
    .join(', ');
  log(
    `    ${concurrency} client${concurrency === 1 ? ' ' : 's'}: ${fmt(out.rps)} req/s, p50 ${fmt(out.p50, 2)} ms, p99 ${fmt(out.p99, 2)} ms, max ${fmt(out.max, 1)} ms; statuses ${JSON.stringify(out.statuses)}; ` +
      `CPU ms/request: ${cpuText}; other load ${fmt(out.otherCores, 2)} cores`,
  );
  if (out.firstError) log(`      first error: ${out.firstError}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Lapis

interface HostInstance {
  index: number;
  pid: number;
  port: number;
}

interface Overhead {
  router: number[];
  /** Straight to a host's HTTP port, as a caller without the router would. */
  direct: number[];
  /** Straight to a host as the router calls it: frames. */
  frames: number[];
  /** Per round: router − direct, ms. */
  diff: number[];
  otherCores: number;
}

interface LapisPhase {
  model: { name: string; version: string; modelDir: string };
  deployPython: string;
  nocodeHosts: HostInstance[];
  levels: Level[];
  overhead: Overhead;
  /** Seconds from createDeployment to Succeeded, and whether the environment was reused from the cache. */
  deploySeconds: { nocode: number; script: number };
  envReused: boolean;
  /** The router's own p50 for the no-code deployment (its last 2,048 requests), ms. */
  serverSideP50: number | null;
  /** Cores used by the idle router and hosts (deployments up, no requests), over a few seconds. */
  idleCores: Record<string, number>;
  onnx: OnnxPhase;
}

interface OnnxPhase {
  /** The packaging job (lapis model package) and the deployment: seconds until registered / Succeeded. */
  packageSeconds: number;
  packageJob: string;
  model: string;
  deploySeconds: number;
  levels: Level[];
  /** The closed-loop level with the highest throughput. */
  best: Level;
  half: OpenLoopWindow;
  /** The same open loop on GET /health (no scoring, no auth): the floor of this machine, generator and HTTP server. */
  health: OpenLoopWindow;
}

async function waitDeployed(client: LapisClient, name: string): Promise<{ d: OnlineDeployment; seconds: number }> {
  const t0 = performance.now();
  let lastNote = t0;
  while (performance.now() - t0 < CFG.deployTimeoutMs) {
    const d = await client.onlineEndpoints.deployment(CFG.endpoint, name);
    if (d.state === 'Succeeded') return { d, seconds: (performance.now() - t0) / 1000 };
    if (d.state === 'Failed') {
      const logs = await client.onlineEndpoints.deploymentLogs(CFG.endpoint, name, 60).catch(() => '');
      throw new Error(`deployment ${name} Failed: ${d.error ?? ''}\n${logs}`);
    }
    if (performance.now() - lastNote > 15_000) {
      lastNote = performance.now();
      log(`    ${name}: ${d.state} after ${fmt((performance.now() - t0) / 1000)} s`);
    }
    await sleep(500);
  }
  throw new Error(`deployment ${name} did not come up within ${CFG.deployTimeoutMs / 1000} s`);
}

/** The scoring processes' loopback ports, from their "listening on" log lines matched to the instances' pids. */
async function hostInstances(client: LapisClient, name: string): Promise<HostInstance[]> {
  const d = await client.onlineEndpoints.deployment(CFG.endpoint, name);
  const text = await client.onlineEndpoints.deploymentLogs(CFG.endpoint, name, 5_000);
  const ports = new Map<number, number>();
  for (const m of text.matchAll(/listening on http:\/\/127\.0\.0\.1:(\d+) \(pid (\d+)/g)) ports.set(Number(m[2]), Number(m[1]));
  return d.instances.flatMap((i) =>
    i.pids.map((pid) => {
      const port = ports.get(pid);
      if (port === undefined) throw new Error(`instance ${i.index} of ${name} (pid ${pid}) has no "listening on" line in its log:\n${text.slice(-2000)}`);
      return { index: i.index, pid, port };
    }),
  );
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** A timed call: the milliseconds to a 200 answer. */
type Timed = () => Promise<number>;

function timedHttp(t: Target): Timed {
  return async () => {
    const res = await t.http.request(t.call.method, t.call.path, t.call.body, 30_000, t.call.headers);
    if (res.status !== 200) throw new Error(`${t.call.path} -> HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
    return res.ms;
  };
}

function timedFrames(pool: FramePool, body: Buffer): Timed {
  return async () => {
    const t0 = performance.now();
    const res = await pool.score(body, 'application/json', 30_000);
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`frames to :${pool.port} -> ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
    return ms;
  };
}

/**
 * One request each through the router, to a host's HTTP and to a host as the router calls it
 * (frames), in turn (the order rotating every round, the hosts alternating), on one client each.
 */
async function overheadPhase(router: Timed, direct: readonly Timed[], frames: readonly Timed[], parts: Parts): Promise<Overhead> {
  const rounds = async (n: number, out?: Overhead): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const calls = [router, direct[i % direct.length] as Timed, frames[i % frames.length] as Timed];
      const ms = [0, 0, 0];
      for (let k = 0; k < 3; k++) {
        const which = (i + k) % 3;
        ms[which] = await (calls[which] as Timed)();
      }
      const [r, d, f] = ms as [number, number, number];
      out?.router.push(r);
      out?.direct.push(d);
      out?.frames.push(f);
      out?.diff.push(r - d);
    }
  };
  await rounds(CFG.warmup);
  await waitForQuiet(parts);
  const meter = cpuMeter(parts);
  const out: Overhead = { router: [], direct: [], frames: [], diff: [], otherCores: 0 };
  await rounds(OPTS.pairs, out);
  out.otherCores = meter().otherCores;
  return out;
}

interface LapisSetup {
  server: RunningServer;
  client: LapisClient;
  model: { name: string; version: string; modelDir: string };
  deploySeconds: { nocode: number; script: number };
  envReused: boolean;
}

/**
 * A Lapis server on a fresh data dir, the model registered by the mlflow client (and downloaded to
 * `modelOut`), the endpoint, its no-code deployment (all traffic) and, with `script`, the score.py one.
 */
async function setupLapis(python: string, dataDir: string, modelOut: string, opts: { script: boolean; nodeArgs?: string[] }): Promise<LapisSetup> {
  const env = { LAPIS_PYTHON: python, LAPIS_JOB_CACHE: CACHE };
  rmSync(dataDir, { recursive: true, force: true });
  const server = await startLapis({ root: ROOT, dataDir, logDir: dirname(dataDir), env, ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}) });
  lapisServer = server;
  const client = new LapisClient({ url: server.url });
  log(`Lapis: listening at ${server.url} (pid ${server.pid}${opts.nodeArgs ? `, node ${opts.nodeArgs.join(' ')}` : ''}); LAPIS_PYTHON ${python}; LAPIS_JOB_CACHE ${CACHE}`);

  log('  registering the model with the mlflow client (register.py) and downloading its files');
  const reg = JSON.parse((await run(python, [join(HERE, 'register.py'), '--out', modelOut], pythonEnvVars({ MLFLOW_TRACKING_URI: server.url }))).split('\n').pop() as string) as { name: string; version: string; model_dir: string };
  const model = { name: reg.name, version: reg.version, modelDir: reg.model_dir };
  log(`    ${model.name} version ${model.version}; files in ${model.modelDir}`);

  await client.onlineEndpoints.create({ name: CFG.endpoint, auth_mode: 'key' });
  const settings = { request_timeout_ms: CFG.requestTimeoutMs, max_concurrent_requests_per_instance: CFG.maxConcurrent };
  log(`  no-code deployment: ${CFG.instances} instances × ${CFG.maxConcurrent} concurrent requests, environment from the model's requirements`);
  await client.onlineEndpoints.createDeployment(CFG.endpoint, { name: 'nocode', endpoint_name: CFG.endpoint, model: `azureml:${model.name}:${model.version}`, instance_count: CFG.instances, request_settings: settings }, { allTraffic: true });
  const nocode = await waitDeployed(client, 'nocode');
  const buildLog = await client.onlineEndpoints.deploymentLogs(CFG.endpoint, 'nocode', 5_000);
  const envReused = !/\bpip install\b/.test(buildLog) || /reused/i.test(buildLog);
  log(`    Succeeded after ${fmt(nocode.seconds, 1)} s (environment ${envReused ? 'reused from the cache' : 'built'})`);
  let scriptSeconds = Number.NaN;
  if (opts.script) {
    const upload = await uploadContent(client, join(HERE, 'score'), { log: () => undefined, progressBar: false });
    log(`  score.py deployment: ${CFG.instances} instances × ${CFG.maxConcurrent}, environment {image: python:3.11-slim} (the host's Python)`);
    await client.onlineEndpoints.createDeployment(
      CFG.endpoint,
      { name: 'script', endpoint_name: CFG.endpoint, model: `azureml:${model.name}:${model.version}`, code_configuration: { code: './score', scoring_script: 'score.py' }, environment: { image: 'python:3.11-slim' }, instance_count: CFG.instances, request_settings: settings },
      { code: upload.hash },
    );
    scriptSeconds = (await waitDeployed(client, 'script')).seconds;
    log(`    Succeeded after ${fmt(scriptSeconds, 1)} s`);
  }
  return { server, client, model, deploySeconds: { nocode: nocode.seconds, script: scriptSeconds }, envReused };
}

/**
 * The Lapis levels: no-code (both bodies) and score.py through the router, no-code straight to the
 * hosts, then the router overhead; the server (and its scoring processes) is stopped at the end.
 */
async function benchLapis(python: string): Promise<LapisPhase> {
  const { server, client, model, deploySeconds, envReused } = await setupLapis(python, join(WORK, 'lapis'), join(WORK, 'model'), { script: true });
  const keys = await client.onlineEndpoints.keys(CFG.endpoint);
  const nocodeHosts = await hostInstances(client, 'nocode');
  const scriptHosts = await hostInstances(client, 'script');
  const deployPython = cmdline(nocodeHosts[0]?.pid ?? 0)[0] ?? python;
  log(`  scoring hosts: nocode ${nocodeHosts.map((h) => `pid ${h.pid} :${h.port}`).join(', ')} (${deployPython}); script ${scriptHosts.map((h) => `pid ${h.pid} :${h.port}`).join(', ')}`);

  const parts: Parts = { router: [server.pid], 'router.sys': [server.pid], hosts: [...nocodeHosts, ...scriptHosts].map((h) => h.pid) };
  const routerHttp = new HttpClient(server.url, 16);
  const directHttp = nocodeHosts.map((h) => new HttpClient(`http://127.0.0.1:${h.port}`, 16));
  const framePools = nocodeHosts.map((h) => new FramePool(h.port));
  const body = (shape: Shape): Buffer => Buffer.from(JSON.stringify(BODIES[shape]));
  const auth = { authorization: `Bearer ${keys.primaryKey}` };
  const scorePath = `/endpoints/${CFG.endpoint}/score`;
  const via = (shape: Shape, pin?: string): Target[] => [{ http: routerHttp, call: { method: 'POST', path: scorePath, body: body(shape), headers: pin ? { ...auth, 'azureml-model-deployment': pin } : auth } }];
  const direct = (shape: Shape): Target[] => directHttp.map((http) => ({ http, call: { method: 'POST', path: '/score', body: body(shape) } }));
  try {
    const idle = cpuMeter(parts);
    await sleep(CFG.idleWindowMs);
    const idleWindow = idle();
    const idleCores = Object.fromEntries(Object.entries(idleWindow.parts).map(([k, v]) => [k, v / idleWindow.wallS]));
    log(`  idle for ${CFG.idleWindowMs / 1000} s: router ${fmt(idleCores.router ?? 0, 3)} cores, hosts ${fmt(idleCores.hosts ?? 0, 3)} cores`);
    await checkAnswers(via('input_data'), EXPECTED.azure as string);
    await checkAnswers(direct('input_data'), EXPECTED.azure as string);
    await checkAnswers(via('dataframe_split'), EXPECTED.mlflow as string);
    await checkAnswers(via('input_data', 'script'), EXPECTED.script as string);

    const levels: Level[] = [];
    const plan: [Pick<Level, 'side' | 'path' | 'shape'>, Target[]][] = [
      [{ side: 'lapis', path: 'nocode', shape: 'input_data' }, via('input_data')],
      [{ side: 'lapis', path: 'nocode', shape: 'dataframe_split' }, via('dataframe_split')],
      [{ side: 'lapis', path: 'script', shape: 'input_data' }, via('input_data', 'script')],
      [{ side: 'direct', path: 'nocode', shape: 'input_data' }, direct('input_data')],
    ];
    for (const [meta, targets] of plan) {
      log(`  ${meta.side === 'direct' ? 'straight to the 2 no-code hosts (no router)' : `via the router, ${meta.path}`}, ${meta.shape}: ${fmt(OPTS.requests)} requests a level`);
      for (const c of CFG.concurrencies) levels.push(await level(meta, targets, c, parts));
    }

    log(`  router overhead: ${fmt(OPTS.pairs)} rounds (router, a host's HTTP, a host's frames) on one client each, interleaved`);
    const paths = [timedHttp(via('input_data')[0] as Target), direct('input_data').map(timedHttp), framePools.map((pool) => timedFrames(pool, body('input_data')))] as const;
    let overhead = await overheadPhase(...paths, parts);
    for (let attempt = 0; overhead.otherCores > CFG.quiet.otherCores && attempt < CFG.quiet.retries; attempt++) {
      log(`    other processes used ${fmt(overhead.otherCores, 2)} cores meanwhile: measuring again`);
      overhead = await overheadPhase(...paths, parts);
    }
    log(`    p50 via router ${fmt(median(overhead.router), 3)} ms, direct (HTTP) ${fmt(median(overhead.direct), 3)} ms: +${fmt(median(overhead.router) - median(overhead.direct), 3)} ms (median of the round differences ${fmt(median(overhead.diff), 3)} ms); direct (frames) ${fmt(median(overhead.frames), 3)} ms; other load ${fmt(overhead.otherCores, 2)} cores`);

    const serverSideP50 = (await client.onlineEndpoints.deployment(CFG.endpoint, 'nocode')).metrics.p50_ms;
    const onnx = await onnxPhase(client, model, via, { router: [server.pid], 'router.sys': [server.pid] });
    return { model, deployPython, nocodeHosts, levels, overhead, deploySeconds, envReused, serverSideP50, idleCores, onnx };
  } finally {
    routerHttp.close();
    for (const h of directHttp) h.close();
    for (const pool of framePools) pool.close();
    await server.stop();
    lapisServer = undefined;
    log('Lapis: stopped (with its scoring processes)');
  }
}

/**
 * The ONNX path: the model packaged by `lapis model package` (a job converting it with skl2onnx in
 * the model's environment, checked, registered), deployed with no code on the in-process ONNX
 * runtime, then closed-loop levels through the router and one open-loop run at half of the highest
 * throughput they reached.
 */
async function onnxPhase(client: LapisClient, model: LapisPhase['model'], via: (shape: Shape, pin?: string) => Target[], parts: Parts): Promise<OnnxPhase> {
  log(`  ONNX: lapis model package ${model.name}:${model.version} (a job in the model's environment + skl2onnx, onnxruntime)`);
  const t0 = performance.now();
  const submitted = await client.models.package(model.name, model.version);
  let job = submitted.job;
  while (!TERMINAL_JOB_STATUSES.includes(job.status)) {
    if (performance.now() - t0 > CFG.packageTimeoutMs) throw new Error(`packaging job ${job.name} did not end within ${CFG.packageTimeoutMs / 1000} s`);
    await sleep(500);
    job = await client.jobs.get(job.name);
  }
  const output = job.outputs.model;
  const registered = output && 'registered' in output ? output.registered : undefined;
  if (job.status !== 'Completed' || !registered) {
    const logs = await client.jobs.logs(job.name, 0).catch(() => ({ entries: [] }));
    throw new Error(`packaging job ${job.name} ${job.status}: ${job.error ?? ''}\n${logs.entries.map((e) => e.text).join('').slice(-3000)}`);
  }
  const packageSeconds = (performance.now() - t0) / 1000;
  log(`    ${registered} registered after ${fmt(packageSeconds, 1)} s (job ${job.name})`);
  log(`  ONNX deployment: ${CFG.onnxInstances} instance × ${OPTS.onnxWorkers} worker thread(s) (WORKER_COUNT), no environment`);
  await client.onlineEndpoints.createDeployment(CFG.endpoint, {
    name: 'onnx',
    endpoint_name: CFG.endpoint,
    model: registered,
    instance_count: CFG.onnxInstances,
    environment_variables: { WORKER_COUNT: String(OPTS.onnxWorkers) },
    request_settings: { request_timeout_ms: CFG.requestTimeoutMs, max_concurrent_requests_per_instance: 1000 },
  });
  const deploySeconds = (await waitDeployed(client, 'onnx')).seconds;
  log(`    Succeeded after ${fmt(deploySeconds, 1)} s`);
  const targets = via('input_data', 'onnx');
  await checkAnswers(targets, EXPECTED.onnx as string);
  log(`  via the router, onnx, input_data: ${fmt(OPTS.onnxRequests)} requests a level`);
  const levels: Level[] = [];
  for (const c of CFG.onnxConcurrencies) levels.push(await level({ side: 'lapis', path: 'onnx', shape: 'input_data' }, targets, c, parts, OPTS.onnxRequests));
  const best = levels.reduce((a, b) => (b.rps > a.rps ? b : a));
  const rate = OPTS.onnxRate || Math.max(1, Math.round(best.rps / 2));
  const n = rate * CFG.openLoopSeconds;
  log(`  open loop at ${OPTS.onnxRate ? 'the rate asked for' : 'half of the highest throughput'} (${fmt(best.rps)} req/s at ${best.concurrency} clients): ${fmt(rate)} req/s for ${CFG.openLoopSeconds} s`);
  const target = targets[0] as Target;
  const http = new HttpClient(target.http.url.origin, 256);
  try {
    const half = await openLoopAtRate(http, target.call, rate, n, parts);
    log(`    after ≥ 1 s idle, the first second: p99 ${fmt(half.afterIdle.p99, 2)} ms, max ${fmt(half.afterIdle.max, 1)} ms`);
    log(`    then ${CFG.openLoopSeconds} s: achieved ${fmt(half.achievedRps)} req/s; p50 ${fmt(half.p50, 2)} ms, p99 ${fmt(half.p99, 2)} ms, max ${fmt(half.max, 1)} ms; statuses ${JSON.stringify(half.statuses)}; sent late by the generator: p99 ${fmt(half.lateP99, 2)} ms, max ${fmt(half.lateMax, 1)} ms; other load ${fmt(half.otherCores, 2)} cores; ${loopLine(half.server)}`);
    log(`  the same open loop on GET /health (no scoring): the floor of the machine, the generator and the HTTP server`);
    const health = await openLoopAtRate(http, { method: 'GET', path: '/health' }, rate, n, parts);
    log(`    after ≥ 1 s idle, the first second: p99 ${fmt(health.afterIdle.p99, 2)} ms; then p50 ${fmt(health.p50, 2)} ms, p99 ${fmt(health.p99, 2)} ms, max ${fmt(health.max, 1)} ms; sent late: p99 ${fmt(health.lateP99, 2)} ms; other load ${fmt(health.otherCores, 2)} cores; ${loopLine(health.server)}`);
    return { packageSeconds, packageJob: job.name, model: registered, deploySeconds, levels, best, half, health };
  } finally {
    http.close();
  }
}

type OpenLoopWindow = OpenLoopResult & {
  p50: number;
  p99: number;
  max: number;
  otherCores: number;
  cpuMsPerRequest: Record<string, number>;
  server: LoopWindow;
  /** The one-second run right after the machine was idle (sockets already open): reported, not the figure. */
  afterIdle: { p99: number; max: number };
};

/**
 * An open loop at `rate` measured warm: a first second opens the generator's sockets, then (once
 * other load is quiet) one more second right after that idle pause, reported apart, and the
 * measured `n` requests straight after it. On this VM the first few hundred milliseconds of load
 * after an idle pause run slower (p99 of that second 5-40 ms for ONNX, 2-14 ms for the /health
 * control, across runs): a cold start, not the latency at this rate, so it is shown apart.
 */
async function openLoopAtRate(http: HttpClient, call: Call, rate: number, n: number, parts: Parts): Promise<OpenLoopWindow> {
  await openLoop(http, call, rate, Math.min(n, rate));
  await waitForQuiet(parts);
  // Scraped before the cold second, not between it and the window: nothing of ours lands in the window.
  const loop = await serverLoopMeter(http);
  const cold = await openLoop(http, call, rate, Math.min(n, rate));
  const meter = cpuMeter(parts);
  const r = await openLoop(http, call, rate, n);
  const cpu = meter();
  return {
    ...r,
    p50: percentile(r.latencies, 50),
    p99: percentile(r.latencies, 99),
    max: r.latencies.length ? Math.max(...r.latencies) : Number.NaN,
    otherCores: cpu.otherCores,
    cpuMsPerRequest: { ...Object.fromEntries(Object.entries(cpu.parts).map(([k, sec]) => [k, (sec * 1000) / n])), client: (cpu.client * 1000) / n },
    server: await loop(),
    afterIdle: { p99: percentile(cold.latencies, 99), max: cold.latencies.length ? Math.max(...cold.latencies) : Number.NaN },
  };
}

interface ProfileResult {
  top: SelfTime[];
  busyMs: number;
  idleMs: number;
  rps: number;
  file: string;
}

/**
 * A separate Lapis server under `node --cpu-prof` (a fresh data dir, the model registered again, the
 * no-code deployment only), one 8-client level through the router, then the top self time of that
 * window. Its figures are not in the table: the profiler slows the server down.
 */
async function profileRouter(python: string): Promise<ProfileResult> {
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  mkdirSync(PROFILE_DIR, { recursive: true });
  log('Profile: a separate Lapis under node --cpu-prof, one 8-client level through the router');
  const { server, client } = await setupLapis(python, join(PROFILE_DIR, 'lapis'), join(PROFILE_DIR, 'model'), { script: false, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] });
  const keys = await client.onlineEndpoints.keys(CFG.endpoint);
  const http = new HttpClient(server.url, 16);
  const t: Target[] = [{ http, call: { method: 'POST', path: `/endpoints/${CFG.endpoint}/score`, body: Buffer.from(JSON.stringify(BODIES.input_data)), headers: { authorization: `Bearer ${keys.primaryKey}` } } }];
  let t0 = performance.now();
  let rps = 0;
  try {
    await checkAnswers(t, EXPECTED.azure as string);
    await load(t, 8, CFG.warmup);
    await waitForQuiet({ router: [server.pid] });
    t0 = performance.now();
    const r = await load(t, 8, OPTS.requests);
    rps = r.requests / (r.wallMs / 1000);
  } finally {
    http.close();
    await server.stop();
    lapisServer = undefined;
  }
  // The profile ends when the server exits: the window is the level and the shutdown after it.
  const windowMs = performance.now() - t0;
  const file = readdirSync(PROFILE_DIR).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${PROFILE_DIR}`);
  log(`  ${fmt(rps)} req/s under the profiler; ${join(PROFILE_DIR, file)}`);
  return { ...topSelfTime(join(PROFILE_DIR, file), 15, windowMs), rps, file: join(PROFILE_DIR, file) };
}

/** With `--profile`, for the `--…-only` modes: an emptied profile folder and the node flags that make the server write its CPU profiles there on exit. */
function profilerArgs(): { nodeArgs?: string[] } {
  if (!OPTS.profile) return {};
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  mkdirSync(PROFILE_DIR, { recursive: true });
  return { nodeArgs: ['--cpu-prof', '--cpu-prof-interval', '200', `--cpu-prof-dir=${PROFILE_DIR}`] };
}

/** With `--profile`: the top self time of the server's main thread over its whole run. */
function printProfileTop(): void {
  // Thread 0 is the main thread; the others are ONNX worker threads.
  const file = OPTS.profile ? readdirSync(PROFILE_DIR).find((f) => /\.0\.\d+\.cpuprofile$/.test(f)) : undefined;
  if (file) for (const r of topSelfTime(join(PROFILE_DIR, file), 25).top) console.log(`  ${fmt(r.ms, 1).padStart(8)} ms  ${fmt(r.share * 100, 1).padStart(5)} %  ${r.fn}  ${r.where}`);
}

/** `--overhead-only`: the router overhead rounds against the no-code deployment, printed. */
async function overheadOnly(python: string): Promise<void> {
  const { server, client } = await setupLapis(python, join(WORK, 'lapis'), join(WORK, 'model'), { script: false, ...profilerArgs() });
  const keys = await client.onlineEndpoints.keys(CFG.endpoint);
  const hosts = await hostInstances(client, 'nocode');
  const body = Buffer.from(JSON.stringify(BODIES.input_data));
  const routerHttp = new HttpClient(server.url, 16);
  const hostHttp = hosts.map((h) => new HttpClient(`http://127.0.0.1:${h.port}`, 16));
  const pools = hosts.map((h) => new FramePool(h.port));
  try {
    const via = timedHttp({ http: routerHttp, call: { method: 'POST', path: `/endpoints/${CFG.endpoint}/score`, body, headers: { authorization: `Bearer ${keys.primaryKey}` } } });
    const o = await overheadPhase(
      via,
      hostHttp.map((http) => timedHttp({ http, call: { method: 'POST', path: '/score', body } })),
      pools.map((pool) => timedFrames(pool, body)),
      { router: [server.pid], hosts: hosts.map((h) => h.pid) },
    );
    log(`p50 via router ${fmt(median(o.router), 3)} ms, direct (HTTP) ${fmt(median(o.direct), 3)} ms: +${fmt(median(o.router) - median(o.direct), 3)} ms; direct (frames) ${fmt(median(o.frames), 3)} ms: +${fmt(median(o.router) - median(o.frames), 3)} ms; other load ${fmt(o.otherCores, 2)} cores`);
  } finally {
    routerHttp.close();
    for (const h of hostHttp) h.close();
    for (const pool of pools) pool.close();
    await server.stop();
    lapisServer = undefined;
  }
  printProfileTop();
}

/** `--onnx-only`: the ONNX phase alone (packaging, levels, the open loops), printed; with `--profile`, the server's CPU profile's top self time over the whole run. */
async function onnxOnly(python: string): Promise<void> {
  const { server, client, model } = await setupLapis(python, join(WORK, 'lapis'), join(WORK, 'model'), { script: false, ...profilerArgs() });
  const keys = await client.onlineEndpoints.keys(CFG.endpoint);
  const http = new HttpClient(server.url, 16);
  try {
    const body = Buffer.from(JSON.stringify(BODIES.input_data));
    const via = (_shape: Shape, pin?: string): Target[] => [{ http, call: { method: 'POST', path: `/endpoints/${CFG.endpoint}/score`, body, headers: { authorization: `Bearer ${keys.primaryKey}`, ...(pin ? { 'azureml-model-deployment': pin } : {}) } } }];
    await onnxPhase(client, model, via, { router: [server.pid], 'router.sys': [server.pid] });
  } finally {
    http.close();
    await server.stop();
    lapisServer = undefined;
  }
  printProfileTop();
}

// ---------------------------------------------------------------------------------------------
// MLflow

interface MlflowPhase {
  levels: Level[];
  processes: string[];
  startSeconds: number;
}

async function benchMlflow(venv: string, modelDir: string): Promise<MlflowPhase> {
  const t0 = performance.now();
  const server = await startMlflowModelServer({ venv, modelDir, logDir: WORK });
  const startSeconds = (performance.now() - t0) / 1000;
  const processes = processTree(server.pid).map((p) => `${p}: ${cmdline(p).join(' ').slice(0, 160)}`);
  log(`MLflow: mlflow models serve answered /ping at ${server.url} after ${fmt(startSeconds, 1)} s; processes:\n${processes.map((p) => `      ${p}`).join('\n')}`);
  const http = new HttpClient(server.url, 16);
  try {
    const targets: Target[] = [{ http, call: { method: 'POST', path: '/invocations', body: Buffer.from(JSON.stringify(BODIES.dataframe_split)) } }];
    await checkAnswers(targets, EXPECTED.mlflow as string);
    const parts: Parts = { mlflow: processTree(server.pid) };
    const levels: Level[] = [];
    log(`  dataframe_split: ${fmt(OPTS.requests)} requests a level`);
    for (const c of CFG.concurrencies) levels.push(await level({ side: 'mlflow', path: 'nocode', shape: 'dataframe_split' }, targets, c, parts));
    return { levels, processes, startSeconds };
  } finally {
    http.close();
    await server.stop();
    log('MLflow: stopped');
  }
}

// ---------------------------------------------------------------------------------------------
// Python time without HTTP

interface Timing {
  p50_us: number;
  p90_us: number;
  n: number;
}
interface ProfRow {
  fn: string;
  where: string;
  calls_per_request: number;
  self_us: number;
  cum_us: number;
  /** Of the profiled time (profile_cum only). */
  share?: number;
}
interface HostProfile {
  lapis_nocode_input_data: Timing;
  lapis_nocode_dataframe_split: Timing;
  mlflow_invocations_dataframe_split: Timing;
  parse_json_data: Timing;
  pyfunc_predict: Timing;
  sklearn_predict: Timing;
  dataframe_build: Timing;
  lapis_script_input_data: Timing;
  profile_total_us: number;
  profile_self: ProfRow[];
  profile_cum: ProfRow[];
}

async function hostProfile(python: string, modelDir: string): Promise<HostProfile> {
  const out = await run(python, [join(HERE, 'profile_host.py'), '--lapis-python', join(ROOT, 'python'), '--model-dir', modelDir, '--code-dir', join(HERE, 'score'), '--bodies', JSON.stringify(BODIES), '--n', String(CFG.hostProfileCalls)], pythonEnvVars());
  return JSON.parse(out.split('\n').pop() as string) as HostProfile;
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  figure: string;
  lapis: string;
  mlflow: string;
  ratio: string;
  target: string;
  result: string;
}
const HEAD: Row = { figure: 'figure', lapis: 'Lapis', mlflow: 'MLflow', ratio: 'ratio', target: 'target', result: 'result' };
const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

function find(levels: readonly Level[], side: Level['side'], path: Level['path'], shape: Shape, c: number): Level | undefined {
  return levels.find((l) => l.side === side && l.path === path && l.shape === shape && l.concurrency === c);
}

const cell = (l: Level | undefined): string => (l ? `${fmt(l.rps)} · ${fmt(l.p99, 1)}${l.errors ? ` (${l.errors} err)` : ''}${l.otherCores > CFG.quiet.otherCores ? ' †' : ''}` : 'n/a');

function rows(l: LapisPhase, m: MlflowPhase): { rows: Row[]; failed: string[] } {
  const table: Row[] = [];
  const failed = new Set<string>();
  const top = CFG.concurrencies[CFG.concurrencies.length - 1] as number;
  const groups: [Level['side'], Level['path'], Shape, string][] = [
    ['lapis', 'nocode', 'input_data', 'no-code, input_data'],
    ['lapis', 'nocode', 'dataframe_split', 'no-code, dataframe_split'],
    ['lapis', 'script', 'input_data', 'score.py, input_data'],
    ['direct', 'nocode', 'input_data', 'no-code, input_data, no router'],
  ];
  for (const [side, path, shape, text] of groups) {
    for (const c of CFG.concurrencies) {
      const x = find(l.levels, side, path, shape, c);
      const y = find(m.levels, 'mlflow', 'nocode', 'dataframe_split', c);
      const ratio = x && y ? x.rps / y.rps : Number.NaN;
      // The target is on the no-code path at saturation: with 8 clients both servers are CPU-bound.
      const targeted = side === 'lapis' && path === 'nocode' && c === top;
      const ok = !!x && !!y && ratio >= TARGETS.throughputRatio && x.p99 <= y.p99 && x.errors === 0;
      if (targeted && !ok) failed.add('no-code throughput');
      table.push({ figure: `${text}, ${c} client${c === 1 ? '' : 's'}: req/s · p99 ms`, lapis: cell(x), mlflow: cell(y), ratio: times(ratio), target: targeted ? `≥ ${TARGETS.throughputRatio}× at ≤ p99` : '', result: targeted ? pass(ok) : '' });
    }
  }
  const o = l.overhead;
  const added = median(o.router) - median(o.direct);
  const ok = added <= TARGETS.routerAddedP50Ms;
  if (!ok) failed.add('router overhead');
  table.push({ figure: "router overhead: p50 via router − p50 direct to a host's HTTP, ms", lapis: fmt(added, 3), mlflow: '', ratio: '', target: `≤ ${TARGETS.routerAddedP50Ms} ms`, result: pass(ok) });
  table.push({ figure: "… p50 via router / direct to a host's HTTP, ms", lapis: `${fmt(median(o.router), 3)} / ${fmt(median(o.direct), 3)}`, mlflow: '', ratio: '', target: '', result: '' });
  table.push({ figure: '… the router alone: p50 via router − p50 direct as it calls a host (frames), ms', lapis: `${fmt(median(o.router) - median(o.frames), 3)} (${fmt(median(o.frames), 3)})`, mlflow: '', ratio: '', target: '', result: '' });
  const lx = find(l.levels, 'lapis', 'nocode', 'input_data', top);
  table.push({ figure: `router CPU per request at ${top} clients (kernel part), ms`, lapis: `${fmt(routerNet(l, lx), 3)} (${fmt(lx?.cpuMsPerRequest['router.sys'] ?? Number.NaN, 3)})`, mlflow: '', ratio: '', target: '', result: '' });
  const onnx = l.onnx;
  for (const x of onnx.levels) {
    const y = find(m.levels, 'mlflow', 'nocode', 'dataframe_split', x.concurrency);
    table.push({ figure: `ONNX, input_data, ${x.concurrency} client${x.concurrency === 1 ? '' : 's'}: req/s · p99 ms`, lapis: cell(x), mlflow: cell(y), ratio: times(y ? x.rps / y.rps : Number.NaN), target: '', result: '' });
  }
  const mBest = m.levels.reduce((a, b) => (b.rps > a.rps ? b : a));
  const ratio = onnx.best.rps / mBest.rps;
  const okRatio = ratio >= TARGETS.onnxRatio && onnx.best.errors === 0;
  if (!okRatio) failed.add('ONNX throughput');
  table.push({
    figure: 'ONNX: highest throughput, Lapis vs MLflow (clients), req/s',
    lapis: `${fmt(onnx.best.rps)} (${onnx.best.concurrency})`,
    mlflow: `${fmt(mBest.rps)} (${mBest.concurrency})`,
    ratio: times(ratio),
    target: `≥ ${TARGETS.onnxRatio}×`,
    result: pass(okRatio),
  });
  const okP99 = onnx.half.p99 <= TARGETS.onnxHalfLoadP99Ms && onnx.half.errors === 0;
  if (!okP99) failed.add('ONNX p99 at half load');
  table.push({
    figure: `ONNX: p99 at half the highest throughput (open loop, ${fmt(onnx.half.targetRps)} req/s), ms`,
    lapis: `${fmt(onnx.half.p99, 2)}${onnx.half.otherCores > CFG.quiet.otherCores ? ' †' : ''}`,
    mlflow: '',
    ratio: '',
    target: `≤ ${TARGETS.onnxHalfLoadP99Ms} ms`,
    result: pass(okP99),
  });
  table.push({ figure: '… its first second after ≥ 1 s idle (not the figure: before the measured window), p99, ms', lapis: fmt(onnx.half.afterIdle.p99, 2), mlflow: '', ratio: '', target: '', result: '' });
  table.push({ figure: '… the same open loop on GET /health (no scoring): p99, ms', lapis: `${fmt(onnx.health.p99, 2)}${onnx.health.otherCores > CFG.quiet.otherCores ? ' †' : ''}`, mlflow: '', ratio: '', target: '', result: '' });
  return { rows: table, failed: [...failed] };
}

/** The router's CPU per request over a level, less what it uses idle over the same time. */
function routerNet(phase: LapisPhase, x: Level | undefined): number {
  if (!x) return Number.NaN;
  return (x.cpuMsPerRequest.router ?? 0) - (phase.idleCores.router ?? 0) * (x.wallMs / x.requests);
}

type Machine = Host & { python: string; packages: string };

const us = (t: Timing): string => `${fmt(t.p50_us)} µs`;
const ms2 = (x: number | undefined): string => (x === undefined ? 'n/a' : fmt(x, 2));

function cpuLine(x: Level | undefined): string {
  if (!x) return 'n/a';
  const v = x.cpuMsPerRequest;
  return Object.keys(v)
    .filter((k) => !isShare(k))
    .map((k) => `${k === 'client' ? 'load generator' : k} ${fmt(v[k] ?? Number.NaN, 2)}${v[`${k}.sys`] !== undefined ? ` (kernel ${fmt(v[`${k}.sys`] ?? Number.NaN, 2)})` : ''}`)
    .join(', ');
}

function findings(l: LapisPhase, m: MlflowPhase, h: HostProfile): string[] {
  const top = CFG.concurrencies[CFG.concurrencies.length - 1] as number;
  const at = (phase: LapisPhase | MlflowPhase, side: Level['side'], c: number): Level | undefined => find(phase.levels, side, 'nocode', side === 'mlflow' ? 'dataframe_split' : 'input_data', c);
  const [lx, dx, mx] = [at(l, 'lapis', top), at(l, 'direct', top), at(m, 'mlflow', top)];
  const [l1, d1, m1] = [at(l, 'lapis', 1), at(l, 'direct', 1), at(m, 'mlflow', 1)];
  const score = h.lapis_nocode_input_data.p50_us / 1000;
  const inv = h.mlflow_invocations_dataframe_split.p50_us / 1000;
  const ceiling = (x: Level | undefined): string => (x ? fmt((cpus().length * 1000) / sumParts(x.cpuMsPerRequest)) : 'n/a');
  const mlflowCpu = mx?.cpuMsPerRequest.mlflow ?? Number.NaN;
  return [
    `Python work per request without HTTP (p50 of ${fmt(CFG.hostProfileCalls)} calls in one process): the host's no-code scorer ${us(h.lapis_nocode_input_data)} (input_data) / ${us(h.lapis_nocode_dataframe_split)} (dataframe_split) against MLflow's \`invocations()\` ${us(h.mlflow_invocations_dataframe_split)}: the same MLflow code (the host calls MLflow's own parser and \`PyFuncModel.predict\`), so the Python work is even. Inside it: \`_parse_json_data\` ${us(h.parse_json_data)}, \`PyFuncModel.predict\` ${us(h.pyfunc_predict)} (scikit-learn's \`predict\` alone ${us(h.sklearn_predict)}, the rest MLflow's schema enforcement), a one-row \`pd.DataFrame\` ${us(h.dataframe_build)}; the score.py's \`run()\` (no parser, still the pyfunc \`predict\`) ${us(h.lapis_script_input_data)}.`,
    `One client, p50: straight to a host ${ms2(d1?.p50)} ms = ${fmt(score, 2)} ms of scoring + ${ms2(d1 ? d1.p50 - score : undefined)} ms of HTTP (\`http.server\`, a thread per connection); through the router ${ms2(l1?.p50)} ms (+${fmt(median(l.overhead.router) - median(l.overhead.direct), 3)} ms in the interleaved rounds; the router sends frames, which skip \`http.server\`'s parsing: straight to a host that way ${fmt(median(l.overhead.frames), 2)} ms); MLflow ${ms2(m1?.p50)} ms = \`invocations()\` ${fmt(inv, 2)} ms + ${ms2(m1 ? m1.p50 - inv : undefined)} ms of uvicorn, FastAPI and \`asyncio.to_thread\`. At one client the 2× target would need a p50 below the scoring work itself (${fmt(score, 2)} ms against MLflow's ${ms2(m1?.p50)} ms), hence the target is read at ${top} clients.`,
    `CPU per request at ${top} clients (ms, /proc over the level): via the router: ${cpuLine(lx)}; straight to the hosts: ${cpuLine(dx)}; MLflow: ${cpuLine(mx)}. The router uses ${fmt(l.idleCores.router ?? 0, 3)} cores idle; less that, ${fmt(routerNet(l, lx), 2)} ms a request, ${lx ? fmt((100 * routerNet(l, lx)) / sumParts(lx.cpuMsPerRequest)) : 'n/a'}% of the CPU a request costs end to end. CPU-bound ceilings on ${cpus().length} cores (load generator included): Lapis via the router ≈ ${ceiling(lx)} req/s, without it ≈ ${ceiling(dx)}; MLflow, one worker process and so one GIL: ≈ 1000 / ${fmt(mlflowCpu, 2)} ms ≈ ${fmt(1000 / mlflowCpu)} req/s.`,
  ];
}

function docsSection(mc: Machine, table: Row[], l: LapisPhase, m: MlflowPhase, h: HostProfile, totalS: number, buildNote: string, prof: ProfileResult | undefined): string {
  const levels = [...l.levels, ...m.levels];
  const others = levels.map((x) => x.otherCores);
  const top = CFG.concurrencies[CFG.concurrencies.length - 1] as number;
  const profText = prof
    ? `\nTop self time of the Lapis server's main thread (\`node --cpu-prof\`; a separate server on a fresh data dir, no-code deployment only) over one more ${fmt(OPTS.requests)}-request, ${top}-client level through the router (${fmt(prof.rps)} req/s under the profiler; ${fmt(prof.busyMs)} ms busy, ${fmt(prof.idleMs)} ms idle). The profiler samples on a timer, so a syscall's share includes the time the thread waited for a core inside it (${cpus().length} cores, shared with ${CFG.instances} busy scoring hosts and the load generator):\n\n\`\`\`\n${prof.top.map((t, i) => `${String(i + 1).padStart(2)}. ${fmt(t.share * 100, 1).padStart(5)}%  ${fmt(t.ms).padStart(6)} ms  ${t.fn}  ${t.where}`).join('\n')}\n\`\`\`\n`
    : '';
  const cprof = h.profile_cum.map((r) => `\`${r.fn}\` (${r.where.split(':')[0]}) ${fmt((r.share ?? 0) * 100)}%`).join(', ');
  const selfTop = h.profile_self
    .slice(0, 6)
    .map((r) => `\`${r.fn}\` ${fmt(r.self_us)} µs (${fmt(r.calls_per_request)} calls)`)
    .join(', ');
  const clean = levels.every((x) => x.errors === 0 && Object.keys(x.statuses).every((k) => k === '200'));
  return `## Serving (${mc.date})

\`npm run bench:serving\` (builds Lapis first; about ${fmt(Math.max(1, totalS / 60))} min; \`-- --no-build\`, \`--no-write\` to only print, \`--requests N\` per level, \`--pairs N\` for the router overhead, \`--onnx-requests N\` per ONNX level, \`--onnx-workers N\` worker threads, \`--profile\` to CPU-profile the router, \`--overhead-only\` for the router overhead alone in about a minute, \`--onnx-only\` for the ONNX phase alone, \`--onnx-rate N\` for its open loop at N req/s). Each run replaces this section; working files go to \`bench/.work/serving/\`.
${machineLine(mc, `Python ${mc.python} (${mc.packages}; the same versions in the deployment's environment)`)}
Whole bench: ${fmt(totalS / 60, 1)} min. Load average before it: ${fmt(mc.loadBefore, 2)}; CPU used by other processes during the timed levels: ${fmt(Math.min(...others), 2)}–${fmt(Math.max(...others), 2)} cores.${buildNote ? `\nNote: ${buildNote}.` : ''}

${markdownTable(HEAD, table)}

Each cell is throughput (req/s) · p99 latency (ms); the ratio is Lapis/MLflow throughput with the same number of clients, MLflow always on its \`dataframe_split\` body. The throughput target is read at ${top} clients, where both servers are CPU-bound (see below for 1 client). ${levels.some((x) => x.otherCores > CFG.quiet.otherCores) ? `† measured while other processes used more than ${CFG.quiet.otherCores} cores (after ${CFG.quiet.retries + 1} tries). ` : ''}${clean ? 'Every request answered 200: none failed, none was throttled (429).' : 'Not every request answered 200: see the (err) counts and results.json.'}

- **Model**: scikit-learn LogisticRegression (max_iter 500) on iris, logged with \`mlflow.sklearn.log_model\` (signature inferred) and registered by the mlflow client against Lapis (\`bench/serving/register.py\`), then downloaded with \`mlflow.artifacts.download_artifacts("models:/${l.model.name}/${l.model.version}")\`: both servers serve those files. Request: one row, \`{"columns": [the 4 features], "index": [0], "data": [[5.1, 3.5, 1.4, 0.2]]}\` under \`input_data\` (Azure's; answer \`[0]\`) or \`dataframe_split\` (MLflow's; answer \`{"predictions": [0]}\`); answers checked before the levels.
- **Lapis**: \`lapis server\` on SQLite, \`LAPIS_PYTHON\` = the test virtualenv's Python, \`LAPIS_JOB_CACHE\` = \`~/.cache/lapis/serving-test-cache\` (the no-code environment ${l.envReused ? 'was reused from it' : 'was built'}; the deployment was up ${fmt(l.deploySeconds.nocode, 1)} s after its creation, the score.py one ${fmt(l.deploySeconds.script, 1)} s). Endpoint with \`auth_mode: key\`; deployments \`nocode\` (no code, all traffic) and \`script\` (\`bench/serving/score/score.py\`: \`json.loads\`, a DataFrame, the pyfunc \`predict\`; \`environment: {image: python:3.11-slim}\`, which runs on the host's Python; reached with \`azureml-model-deployment: script\`), each with \`instance_count: ${CFG.instances}\` and \`max_concurrent_requests_per_instance: ${CFG.maxConcurrent}\` (${CFG.instances} × ${CFG.maxConcurrent} slots for at most ${top} clients; each host runs ${CFG.maxConcurrent} scoring threads). Requests: \`POST /endpoints/${CFG.endpoint}/score\` with \`Authorization: Bearer <primary key>\`. "No router": the same bodies to \`POST /score\` on the two no-code hosts' loopback ports (from their "listening on" log lines, \`GET .../logs\`, matched to the instances' pids: the API does not give the ports), half the clients on each.
- **MLflow**: \`mlflow models serve -m <the downloaded folder> --env-manager local\` from the same virtualenv: uvicorn + FastAPI with **one worker process** (its default: without \`--workers\`/\`MLFLOW_MODELS_WORKERS\` it passes \`--workers 1\`), each request's \`invocations()\` run through \`asyncio.to_thread\`; ${m.processes.length} processes in its tree (the \`mlflow\` CLI and uvicorn). It answered /ping ${fmt(m.startSeconds, 1)} s after the spawn.
- **Load**: one load generator (\`bench/lib\`: Node, keep-alive, bodies serialised before the clock), closed loop, ${fmt(OPTS.requests)} requests a level after a warm-up of ${CFG.warmup}; p99 nearest-rank. Lapis ran first and was stopped with its scoring processes before MLflow started. Before each level the bench waits up to ${CFG.quiet.maxWaitMs / 1000} s for other processes to use less than ${CFG.quiet.otherCores} cores, and measures a level again (at most ${CFG.quiet.retries} more times) if they used more during it; the load generator shares the ${mc.cores} cores with the servers.
- **Router overhead**: one client, ${fmt(OPTS.pairs)} rounds after ${CFG.warmup} warm-up rounds, each one request through the router, one straight to a host's HTTP port (what a caller without the router gets) and one straight to a host as the router calls it (frames on a kept-alive connection, sent by the router's own \`FramePool\`), the hosts alternating and the order rotating every round; the target is p50 via router − p50 to the host's HTTP (the median of the per-round differences: ${fmt(median(l.overhead.diff), 3)} ms; other load ${fmt(l.overhead.otherCores, 2)} cores). Against frames, the router's own cost: its HTTP server, the key check and routing, and two more loopback hops (each a write that wakes another process: on this VM the bulk of it). The router's own p50 for the deployment (\`online-deployment show\`, its last 2,048 requests, host time included): ${l.serverSideP50 ?? 'n/a'} ms. "Router CPU per request" is the Lapis node process's user + kernel time over the ${top}-client level, less its idle use (${fmt(l.idleCores.router ?? 0, 3)} cores, over ${CFG.idleWindowMs / 1000} s with the deployments up), per request; in parentheses its kernel time alone.
- **Where the time goes** (CPU from /proc per level; \`bench/serving/profile_host.py\`, run after the servers stopped with the deployment environment's Python, calls the host's scorers and MLflow's functions in a loop without HTTP):
${findings(l, m, h)
  .map((f) => `  - ${f}`)
  .join('\n')}
  - cProfile of the no-code scorer on the \`input_data\` body (${fmt(h.profile_total_us)} µs a call under the profiler, which inflates every call; shares hold better), share of its time inside each step: ${cprof}. Largest self times: ${selfTop}.
- **ONNX path**: the same registered model packaged by \`lapis model package\` (job ${l.onnx.packageJob}: the model's environment plus skl2onnx and onnxruntime, conversion, check against the original, registration as ${l.onnx.model}; ${fmt(l.onnx.packageSeconds, 1)} s from the request to the registered version), deployed with no code on the in-process ONNX runtime: ${CFG.onnxInstances} instance × ${OPTS.onnxWorkers} worker thread(s) (\`WORKER_COUNT\`), \`max_concurrent_requests_per_instance: 1024\`, up ${fmt(l.onnx.deploySeconds, 1)} s after its creation; requests pinned with \`azureml-model-deployment: onnx\`, the \`input_data\` body, answer \`[0]\` checked. Closed loop with ${CFG.onnxConcurrencies.join(', ')} clients, ${fmt(OPTS.onnxRequests)} requests a level; the throughput target compares the highest throughput of each side (MLflow's at any of its levels). Then an open loop (\`bench/lib/load.ts\` \`openLoop\`: requests sent on a fixed schedule whether or not earlier ones answered; latency from each request's send, waiting for a socket included; the generator's timers sent requests late by up to ${fmt(l.onnx.half.lateMax, 1)} ms, p99 ${fmt(l.onnx.half.lateP99, 2)} ms) at half of the highest ONNX throughput: one second to open the generator's sockets, a pause until other load is quiet, one second right after that pause (reported apart: p99 ${fmt(l.onnx.half.afterIdle.p99, 2)} ms, max ${fmt(l.onnx.half.afterIdle.max, 1)} ms — an idle machine answers its first few hundred milliseconds of load slower), then the measured ${CFG.openLoopSeconds} s straight after it: achieved ${fmt(l.onnx.half.achievedRps)} req/s, p50 ${fmt(l.onnx.half.p50, 2)} ms, p99 ${fmt(l.onnx.half.p99, 2)} ms, max ${fmt(l.onnx.half.max, 1)} ms, statuses ${JSON.stringify(l.onnx.half.statuses)}, other load ${fmt(l.onnx.half.otherCores, 2)} cores; the server's own view of those 11 s (its /metrics scraped before them): ${loopLine(l.onnx.half.server)}. The same sequence on \`GET /health\` (a fixed text: no scoring, no key check) as a control: p50 ${fmt(l.onnx.health.p50, 2)} ms, p99 ${fmt(l.onnx.health.p99, 2)} ms, max ${fmt(l.onnx.health.max, 1)} ms (other load ${fmt(l.onnx.health.otherCores, 2)} cores; ${loopLine(l.onnx.health.server)}) — what the machine, the load generator and the HTTP server cost at that rate before any scoring. CPU per request at the highest level (ms; "router" is the whole Lapis process, its ONNX worker threads included): ${cpuLine(l.onnx.best)}.
${profText}`;
}

// ---------------------------------------------------------------------------------------------
// Main

async function pythonEnv(): Promise<{ venv: string; python: string; packages: string }> {
  log('Python venv: bash scripts/python-test-env.sh');
  const venv = (await run('bash', ['scripts/python-test-env.sh'])).split('\n').pop() as string;
  const info = sh(join(venv, 'bin/python'), ['-c', 'import sys, importlib.metadata as m; print(sys.version.split()[0]); print(", ".join("%s %s" % (p, m.version(p)) for p in ("mlflow", "scikit-learn", "pandas", "numpy", "uvicorn", "fastapi")))']).split('\n');
  return { venv, python: info[0] ?? '?', packages: info[1] ?? '?' };
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
  const machine: Machine = { ...machineInfo(ROOT), python: py.python, packages: py.packages };
  log(`Machine: ${machine.cores} cores, ${fmt(machine.ramGiB, 1)} GiB, Node ${machine.node}, Python ${machine.python} (${machine.packages}); load average ${fmt(machine.loadBefore, 2)}`);

  const python = join(py.venv, 'bin/python');
  if (OPTS.overheadOnly) return overheadOnly(python);
  if (OPTS.onnxOnly) return onnxOnly(python);
  const lapis = await benchLapis(python);
  const profiled: { top?: ProfileResult } = {};
  if (OPTS.profile) {
    profiled.top = await profileRouter(python);
    log('Profile: Lapis stopped');
  }
  const mlflow = await benchMlflow(py.venv, lapis.model.modelDir);

  log(`Python time without HTTP: profile_host.py with ${lapis.deployPython}`);
  const host = await hostProfile(lapis.deployPython, lapis.model.modelDir);
  log(`  no-code scorer ${us(host.lapis_nocode_input_data)} (input_data), MLflow invocations() ${us(host.mlflow_invocations_dataframe_split)}, pyfunc predict ${us(host.pyfunc_predict)}, sklearn predict ${us(host.sklearn_predict)}`);

  const { rows: table, failed } = rows(lapis, mlflow);
  const totalS = (performance.now() - started) / 1000;
  console.log(`\n${textTable(HEAD, table)}\n`);
  for (const f of findings(lapis, mlflow, host)) console.log(`- ${f}`);
  console.log('\ncProfile of the no-code scorer, self time per call:');
  for (const r of host.profile_self) console.log(`  ${fmt(r.self_us, 1).padStart(7)} µs  ${fmt(r.calls_per_request, 1).padStart(5)}×  ${r.fn}  ${r.where}`);
  console.log(`Shares of its time (cumulative): ${host.profile_cum.map((r) => `${r.fn} ${fmt((r.share ?? 0) * 100)}%`).join(', ')}`);
  if (profiled.top) {
    console.log(`\nLapis server self time (node --cpu-prof, 8 clients, ${fmt(profiled.top.rps)} req/s; ${profiled.top.file}):`);
    for (const t of profiled.top.top) console.log(`  ${fmt(t.share * 100, 1).padStart(5)}%  ${fmt(t.ms).padStart(6)} ms  ${t.fn}  ${t.where}`);
  }
  console.log(failed.length ? `\nMissed targets: ${failed.join(', ')}.` : '\nEvery target met.');
  console.log(`Whole bench: ${fmt(totalS / 60, 1)} min.`);
  writeFileSync(join(WORK, 'results.json'), JSON.stringify({ machine, config: CFG, opts: OPTS, lapis: { ...lapis, overhead: overheadSummary(lapis.overhead) }, mlflow, host, profile: profiled.top }, null, 2));
  if (OPTS.write) {
    writeDocsSection(DOCS, 'Serving', docsSection(machine, table, lapis, mlflow, host, totalS, buildNote, profiled.top));
    log(`Wrote the ## Serving section of ${DOCS}`);
  }
}

function overheadSummary(o: Overhead): Record<string, number> {
  return { router50: median(o.router), direct50: median(o.direct), frames50: median(o.frames), diff50: median(o.diff), otherCores: o.otherCores };
}

async function shutdown(): Promise<void> {
  killHelpers();
  await stopAll();
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) return;
  interrupted = true;
  console.error('\nInterrupted: stopping the servers (Lapis with its scoring processes) and the Python helpers');
  void shutdown().finally(() => process.exit(130));
});
process.on('exit', () => {
  killHelpers();
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
