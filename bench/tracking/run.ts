/**
 * Tracking benchmark: MLflow's own server and Lapis, one after the other on this machine, driven by
 * the same load generator over the same data. See docs/benchmarks.md for the method.
 *
 *   npm run bench:tracking [-- --runs N] [--no-build] [--profile] [--no-write] [--mlflow-analyze]
 *   npm run bench:tracking -- --ingest-only [--repeat N] [--runs N] [--no-build]
 *
 * --ingest-only runs Lapis's log-batch ingestion phase alone (no MLflow, nothing written to the
 * docs), on a database seeded like the full bench's, for quick A/B runs of the ingestion path.
 */
import { spawn, spawnSync } from 'node:child_process';
import { machineInfo, machineLine, type Machine as Host } from '../lib/machine.js';
import { markdownTable, textTable, writeDocsSection } from '../lib/report.js';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient, sleep } from '../lib/http.js';
import { closedLoop, pool, summarize, type Call, type LatencySummary } from '../lib/load.js';
import { machineBusySeconds, mib, treeCpuSeconds, treePss, treeRss, treeRssBreakdown } from '../lib/proc.js';
import { topSelfTime, type SelfTime } from '../lib/profile.js';
import { killAllNow, startLapis, startMlflow, stopAll, type RunningServer } from '../lib/servers.js';
import {
  HISTORY_KEY,
  HISTORY_T0,
  historyValue,
  ingestBody,
  METRIC_KEYS,
  PARAM_KEYS,
  rng,
  seedRuns,
  TAG_KEYS,
  writeRunsTsv,
  type SeedRun,
} from './dataset.js';
import { seedLapisSql } from './seed_lapis.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WORK = join(ROOT, 'bench/.work/tracking');
const DOCS = join(ROOT, 'docs/benchmarks.md');
const API = '/api/2.0/mlflow';

// ---------------------------------------------------------------------------------------------
// Parameters

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUNS = Number(option('--runs') ?? 100_000);
const OPTS = {
  build: !flag('--no-build'),
  profile: flag('--profile'),
  write: !flag('--no-write') && !flag('--ingest-only'),
  mlflowAnalyze: flag('--mlflow-analyze'),
  ingestOnly: flag('--ingest-only'),
  repeat: Number(option('--repeat') ?? 1),
};
if (!Number.isInteger(RUNS) || RUNS < 100) throw new Error('--runs must be an integer ≥ 100');
if (!Number.isInteger(OPTS.repeat) || OPTS.repeat < 1) throw new Error('--repeat must be an integer ≥ 1');

const CFG = {
  idleSettleMs: 5_000,
  ingest: {
    clients: 4,
    shape: { keys: 10, stepsPerRequest: 100 }, // 1,000 metric points per request
    // Requests per client: Lapis 4 × 100 = 400 requests (400k points); MLflow is far slower.
    lapis: { warmup: 3, timed: 100 },
    mlflow: { warmup: 1, timed: 8 },
  },
  search: { warmup: 3, timed: 50, mlflowBudgetMs: 90_000, mlflowMinTimed: 3 },
  history: { steps: 100_000, warmup: 2, mlflowWarmup: 1, timed: 20, mlflowBudgetMs: 45_000, mlflowMinTimed: 5 },
  // Lapis: this many runs go through its REST API (timed, for the rate), the rest by direct SQL.
  seedViaApi: 5_000,
  seedConcurrency: 8,
  // Before each timed phase, wait (bounded) until other processes leave the CPUs mostly idle.
  quiet: { maxWaitMs: 10_000, otherCores: 0.5 },
};
const TARGETS = { ingestPps: 250_000, ingestRatio: 10, searchP95Ms: 50, searchRatio: 20, historyMs: 100, idleRssMiB: 150 };

// ---------------------------------------------------------------------------------------------
// Small helpers

const started = performance.now();
const clock = (): string => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s`;
const log = (msg: string): void => console.log(`[${clock()}] ${msg}`);
const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');

function sh(cmd: string, argv: string[], opts: { cwd?: string } = {}): string {
  const res = spawnSync(cmd, argv, { cwd: opts.cwd ?? ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (res.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${res.status}):\n${res.stderr || res.stdout}`);
  return res.stdout.trim();
}

/** Runs a command, streaming its stderr to ours, and resolves with its stdout. */
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

/** CPU accounting of a phase: the server's own CPU and what everything else on the machine used. */
function cpuMeter(server: RunningServer): () => { serverCores: number; otherCores: number; wallS: number } {
  const t0 = performance.now();
  const s0 = treeCpuSeconds(server.pid);
  const m0 = machineBusySeconds();
  const b0 = process.cpuUsage();
  return () => {
    const wallS = (performance.now() - t0) / 1000;
    const serverS = treeCpuSeconds(server.pid) - s0;
    const bench = process.cpuUsage(b0);
    const benchS = (bench.user + bench.system) / 1e6;
    const otherS = Math.max(0, machineBusySeconds() - m0 - serverS - benchS);
    return { serverCores: serverS / wallS, otherCores: otherS / wallS, wallS };
  };
}

/**
 * Waits (bounded) for a 1-second window in which processes other than `server` and the bench used
 * less than CFG.quiet.otherCores cores: other work on this machine skews every figure.
 */
async function waitForQuiet(server: RunningServer): Promise<void> {
  const t0 = performance.now();
  let other = Infinity;
  while (performance.now() - t0 < CFG.quiet.maxWaitMs) {
    const meter = cpuMeter(server);
    await sleep(1_000);
    other = meter().otherCores;
    if (other < CFG.quiet.otherCores) {
      if (performance.now() - t0 > 1_500) log(`  (waited ${fmt((performance.now() - t0) / 1000, 0)} s for other processes to calm down)`);
      return;
    }
  }
  log(`  note: other processes kept ${fmt(other, 2)} cores busy; measuring anyway`);
}

// ---------------------------------------------------------------------------------------------
// Phases, identical for both servers

interface IngestResult {
  pointsPerSec: number;
  requests: number;
  points: number;
  wallMs: number;
  errors: number;
  firstError?: string;
  latency: LatencySummary;
  serverCores: number;
  otherCores: number;
}

interface SearchResult {
  latency: LatencySummary;
  planned: number;
  names: string[][];
  otherCores: number;
}

interface HistoryResult {
  latency: LatencySummary;
  /** The first call after the history was written: Lapis serves later calls from its history cache. */
  firstMs: number;
  points: number;
  planned: number;
  otherCores: number;
}

interface ServerResult {
  startupMs: number;
  idleRss: { bytes: number; processes: number; pss: number };
  loadedRss: { bytes: number; processes: number; pss: number };
  seed: { seconds: number; how: string; apiRuns?: number; apiSeconds?: number; sqlSeconds?: number };
  split?: { idle: { serving: number; jobs: number }; loaded: { serving: number; jobs: number } };
  ingest: IngestResult;
  search: SearchResult;
  history: HistoryResult;
}

async function createExperiment(http: HttpClient, name: string): Promise<string> {
  const res = await http.json<{ experiment_id: string }>('POST', `${API}/experiments/create`, { name });
  return res.experiment_id;
}

async function createRun(http: HttpClient, experimentId: string, name: string, start: number, tags: { key: string; value: string }[] = []): Promise<string> {
  const res = await http.json<{ run: { info: { run_id: string } } }>('POST', `${API}/runs/create`, {
    experiment_id: experimentId,
    run_name: name,
    start_time: start,
    user_id: 'bench',
    tags,
  });
  return res.run.info.run_id;
}

async function ingestPhase(http: HttpClient, server: RunningServer, plan: { warmup: number; timed: number }, label: string): Promise<IngestResult> {
  const { clients, shape } = CFG.ingest;
  const experimentId = await createExperiment(http, `bench-ingest-${label}`);
  const runIds: string[] = [];
  for (let c = 0; c < clients; c++) runIds.push(await createRun(http, experimentId, `ingest-${c}`, HISTORY_T0));
  const rand = rng(7);
  const call = (body: Buffer): Call => ({ method: 'POST', path: `${API}/runs/log-batch`, body });
  // Bodies are serialised before the clock starts: the generator only writes buffers.
  const warm = runIds.map((id) => Array.from({ length: plan.warmup }, (_, r) => call(ingestBody(id, r, shape, rand))));
  const timed = runIds.map((id) => Array.from({ length: plan.timed }, (_, r) => call(ingestBody(id, plan.warmup + r, shape, rand))));
  const w = await closedLoop(http, warm);
  if (w.errors > 0) throw new Error(`${server.name} log-batch warm-up failed: ${w.firstError}`);
  await waitForQuiet(server);
  const meter = cpuMeter(server);
  const res = await closedLoop(http, timed);
  const cpu = meter();
  const pointsPerRequest = shape.keys * shape.stepsPerRequest;
  const okPoints = (res.requests - res.errors) * pointsPerRequest;
  const out: IngestResult = {
    pointsPerSec: okPoints / (res.wallMs / 1000),
    requests: res.requests,
    points: okPoints,
    wallMs: res.wallMs,
    errors: res.errors,
    latency: summarize(res.latencies),
    serverCores: cpu.serverCores,
    otherCores: cpu.otherCores,
  };
  if (res.firstError !== undefined) out.firstError = res.firstError;
  return out;
}

/** The timed search queries: thresholds spread over 0.1–0.9 in a shuffled order, p1 over its 10 values. */
function searchBodies(experimentId: string, count: number, offset = 0): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const k = (i + offset) % 50;
    const threshold = Math.round((0.1 + (0.8 * ((k * 37) % 50)) / 49) * 1000) / 1000;
    return Buffer.from(
      JSON.stringify({
        experiment_ids: [experimentId],
        filter: `metrics.m1 < ${threshold} and params.p1 = 'v${(k * 7 + offset) % 10}'`,
        order_by: ['metrics.m2 DESC'],
        max_results: 100,
      }),
    );
  });
}

/** Sequential timed calls; past `budgetMs` (once `minTimed` are done) the rest are skipped. */
async function timedSequential(count: number, budgetMs: number, minTimed: number, fn: (i: number) => Promise<number>): Promise<number[]> {
  const t0 = performance.now();
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i >= minTimed && performance.now() - t0 > budgetMs) break;
    out.push(await fn(i));
  }
  return out;
}

async function searchPhase(http: HttpClient, server: RunningServer, experimentId: string, mlflow: boolean): Promise<SearchResult> {
  const { warmup, timed, mlflowBudgetMs, mlflowMinTimed } = CFG.search;
  const path = `${API}/runs/search`;
  // MLflow spends 30 s or more on each of these queries, so its warm-up is one cheap search
  // (no filter, max_results 1) that still goes through its search code and store.
  const warm = mlflow ? [Buffer.from(JSON.stringify({ experiment_ids: [experimentId], max_results: 1 }))] : searchBodies(experimentId, warmup, 17);
  for (const body of warm) {
    const res = await http.request('POST', path, body);
    if (res.status !== 200) throw new Error(`search warm-up -> HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
  }
  const bodies = searchBodies(experimentId, timed);
  const names: string[][] = [];
  await waitForQuiet(server);
  const meter = cpuMeter(server);
  const latencies = await timedSequential(timed, mlflow ? mlflowBudgetMs : Infinity, mlflow ? mlflowMinTimed : timed, async (i) => {
    const res = await http.request('POST', path, bodies[i]);
    if (res.status !== 200) throw new Error(`search -> HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
    const parsed = JSON.parse(res.body.toString('utf8')) as { runs?: { info: { run_name: string } }[] };
    names.push((parsed.runs ?? []).map((r) => r.info.run_name));
    return res.ms;
  });
  return { latency: summarize(latencies), planned: timed, names, otherCores: meter().otherCores };
}

async function historyPhase(http: HttpClient, server: RunningServer, runId: string, mlflow: boolean): Promise<HistoryResult> {
  const { timed, mlflowBudgetMs, mlflowMinTimed } = CFG.history;
  const warmup = mlflow ? CFG.history.mlflowWarmup : CFG.history.warmup;
  const path = `${API}/metrics/get-history?run_id=${runId}&metric_key=${HISTORY_KEY}`;
  let points = 0;
  const once = async (): Promise<number> => {
    const res = await http.request('GET', path);
    if (res.status !== 200) throw new Error(`get-history -> HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
    const parsed = JSON.parse(res.body.toString('utf8')) as { metrics?: { step: number; value: number }[]; next_page_token?: string };
    const metrics = parsed.metrics ?? [];
    points = metrics.length;
    const last = metrics[metrics.length - 1];
    if (points !== CFG.history.steps || parsed.next_page_token || !last || last.value !== historyValue(CFG.history.steps - 1)) {
      throw new Error(`get-history returned ${points} points (expected ${CFG.history.steps} in one response)`);
    }
    return res.ms;
  };
  const firstMs = await once();
  for (let i = 1; i < warmup; i++) await once();
  await waitForQuiet(server);
  const meter = cpuMeter(server);
  const latencies = await timedSequential(timed, mlflow ? mlflowBudgetMs : Infinity, mlflow ? mlflowMinTimed : timed, () => once());
  return { latency: summarize(latencies), firstMs, points, planned: timed, otherCores: meter().otherCores };
}

/** MLflow's RSS split between its HTTP serving processes and its job runner (huey consumers). */
function mlflowSplit(pid: number): { serving: number; jobs: number } {
  let serving = 0;
  let jobs = 0;
  for (const p of treeRssBreakdown(pid)) {
    if (/huey|jobs\._job_runner|jobs\./.test(p.cmd)) jobs += p.bytes;
    else serving += p.bytes;
  }
  return { serving, jobs };
}

function memory(server: RunningServer): { bytes: number; processes: number; pss: number } {
  return { ...treeRss(server.pid), pss: treePss(server.pid) };
}

async function measureIdle(server: RunningServer): Promise<{ bytes: number; processes: number; pss: number }> {
  await sleep(CFG.idleSettleMs);
  return memory(server);
}

function describeIngest(name: string, r: IngestResult): void {
  log(
    `  ${name} log-batch: ${fmt(r.pointsPerSec)} points/s (${r.requests} requests, ${fmt(r.points)} points in ${fmt(r.wallMs / 1000, 2)} s; ` +
      `request p50 ${fmt(r.latency.p50, 1)} ms, p95 ${fmt(r.latency.p95, 1)} ms; errors ${r.errors}; server ${fmt(r.serverCores, 2)} cores, other load ${fmt(r.otherCores, 2)} cores)`,
  );
  if (r.firstError) log(`    first error: ${r.firstError}`);
}

// ---------------------------------------------------------------------------------------------
// MLflow

async function pythonEnv(): Promise<{ venv: string; python: string; mlflow: string }> {
  log('MLflow venv: bash scripts/python-test-env.sh');
  const venv = (await run('bash', ['scripts/python-test-env.sh'])).split('\n').pop() as string;
  const info = sh(join(venv, 'bin/python'), ['-c', 'import sys, importlib.metadata as m; print(sys.version.split()[0]); print(m.version("mlflow"))']).split('\n');
  return { venv, python: info[0] ?? '?', mlflow: info[1] ?? '?' };
}

async function benchMlflow(venv: string, runsTsv: string): Promise<ServerResult> {
  const dir = join(WORK, 'mlflow');
  mkdirSync(dir, { recursive: true });
  const dbPath = join(dir, 'mlflow.db');
  log(`MLflow: seeding ${fmt(RUNS)} runs + a ${fmt(CFG.history.steps)}-step history straight into its SQLite file (seed_mlflow.py)`);
  const t0 = performance.now();
  const seedOut = await run(join(venv, 'bin/python'), [join(ROOT, 'bench/tracking/seed_mlflow.py'), '--db', dbPath, '--runs-tsv', runsTsv, '--history-steps', String(CFG.history.steps)]);
  const seed = JSON.parse(seedOut.split('\n').pop() as string) as { search_experiment_id: string; history_run_id: string; runs: number };
  if (OPTS.mlflowAnalyze) sh(join(venv, 'bin/python'), ['-c', `import sqlite3; c = sqlite3.connect(${JSON.stringify(dbPath)}); c.execute('ANALYZE'); c.commit()`]);
  const seedSeconds = (performance.now() - t0) / 1000;
  log(`  seeded in ${fmt(seedSeconds, 1)} s${OPTS.mlflowAnalyze ? ' (then ANALYZE)' : ''}`);

  const t1 = performance.now();
  const server = await startMlflow({ venv, dbPath, artifactsDir: join(dir, 'artifacts'), logDir: dir });
  const startupMs = performance.now() - t1;
  const http = new HttpClient(server.url, 16);
  try {
    log(`MLflow: healthy at ${server.url} after ${fmt(startupMs / 1000, 1)} s (pid ${server.pid}, default uvicorn workers)`);
    const idleRss = await measureIdle(server);
    const idleSplit = mlflowSplit(server.pid);
    log(`  idle RSS ${fmt(mib(idleRss.bytes), 1)} MiB over ${idleRss.processes} processes (HTTP server ${fmt(mib(idleSplit.serving), 1)} MiB, job runner ${fmt(mib(idleSplit.jobs), 1)} MiB); PSS ${fmt(mib(idleRss.pss), 1)} MiB`);
    log('MLflow: log-batch ingestion');
    const ingest = await ingestPhase(http, server, CFG.ingest.mlflow, 'mlflow');
    describeIngest('MLflow', ingest);
    log(`MLflow: search-runs (1 light warm-up, up to ${CFG.search.timed} timed, ${CFG.search.mlflowBudgetMs / 1000} s budget)`);
    const search = await searchPhase(http, server, seed.search_experiment_id, true);
    log(`  p50 ${fmt(search.latency.p50, 1)} ms, p95 ${fmt(search.latency.p95, 1)} ms over ${search.latency.n} queries; other load ${fmt(search.otherCores, 2)} cores`);
    log(`MLflow: get-metric-history (${CFG.history.mlflowWarmup} warm-up, up to ${CFG.history.timed} timed, ${CFG.history.mlflowBudgetMs / 1000} s budget)`);
    const history = await historyPhase(http, server, seed.history_run_id, true);
    log(`  p50 ${fmt(history.latency.p50, 1)} ms, p95 ${fmt(history.latency.p95, 1)} ms over ${history.latency.n} calls; other load ${fmt(history.otherCores, 2)} cores`);
    const loadedRss = memory(server);
    const loadedSplit = mlflowSplit(server.pid);
    log(`  RSS after load ${fmt(mib(loadedRss.bytes), 1)} MiB over ${loadedRss.processes} processes (HTTP server ${fmt(mib(loadedSplit.serving), 1)} MiB, job runner ${fmt(mib(loadedSplit.jobs), 1)} MiB); PSS ${fmt(mib(loadedRss.pss), 1)} MiB`);
    return {
      startupMs,
      idleRss,
      loadedRss,
      split: { idle: idleSplit, loaded: loadedSplit },
      seed: { seconds: seedSeconds, how: 'direct SQLite inserts (seed_mlflow.py)' },
      ingest,
      search,
      history,
    };
  } finally {
    http.close();
    await server.stop();
    log('MLflow: stopped');
  }
}

// ---------------------------------------------------------------------------------------------
// Lapis

/** Creates the experiments, sends `runs` through runs/create + runs/log-batch, and logs the history. */
async function seedLapisApi(http: HttpClient, runs: readonly SeedRun[]): Promise<{ experimentId: string; historyRunId: string; runsSeconds: number; historySeconds: number }> {
  const experimentId = await createExperiment(http, 'bench-search');
  const t0 = performance.now();
  let done = 0;
  await pool(runs, CFG.seedConcurrency, async (r) => {
    const runId = await createRun(
      http,
      experimentId,
      r.name,
      r.start,
      TAG_KEYS.map((key, i) => ({ key, value: r.tags[i] as string })),
    );
    await http.json('POST', `${API}/runs/log-batch`, {
      run_id: runId,
      params: PARAM_KEYS.map((key, i) => ({ key, value: r.params[i] })),
      metrics: METRIC_KEYS.map((key, i) => ({ key, value: r.metrics[i], timestamp: r.start, step: 0 })),
    });
    if (++done % Math.max(1, Math.floor(runs.length / 4)) === 0) log(`  ${fmt(done)} / ${fmt(runs.length)} runs`);
  });
  const runsSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const historyExperiment = await createExperiment(http, 'bench-history');
  const historyRunId = await createRun(http, historyExperiment, 'history', HISTORY_T0);
  for (let from = 0; from < CFG.history.steps; from += 1000) {
    const metrics = [];
    for (let s = from; s < Math.min(CFG.history.steps, from + 1000); s++) metrics.push({ key: HISTORY_KEY, value: historyValue(s), timestamp: HISTORY_T0 + s, step: s });
    await http.json('POST', `${API}/runs/log-batch`, { run_id: historyRunId, metrics });
  }
  return { experimentId, historyRunId, runsSeconds, historySeconds: (performance.now() - t1) / 1000 };
}

async function benchLapis(runs: readonly SeedRun[]): Promise<{ result: ServerResult; dataDir: string; searchExperiment: string; historyRunId: string }> {
  const dataDir = join(WORK, 'lapis');
  const viaApi = runs.slice(0, CFG.seedViaApi);
  const viaSql = runs.slice(CFG.seedViaApi);
  let server = await startLapis({ root: ROOT, dataDir, logDir: WORK });
  let http = new HttpClient(server.url, 16);
  try {
    log(`Lapis: listening at ${server.url} (pid ${server.pid}), empty database; RSS ${fmt(mib(treeRss(server.pid).bytes), 1)} MiB`);
    log(`Lapis: seeding ${fmt(viaApi.length)} runs through its REST API (runs/create + runs/log-batch, ${CFG.seedConcurrency} concurrent), then the history (100 × log-batch)`);
    const seed = await seedLapisApi(http, viaApi);
    const apiRate = viaApi.length / seed.runsSeconds;
    log(`  ${fmt(viaApi.length)} runs in ${fmt(seed.runsSeconds, 1)} s = ${fmt(apiRate)} runs/s (${fmt(RUNS)} runs would take ${fmt(RUNS / apiRate / 60, 1)} min); history in ${fmt(seed.historySeconds, 1)} s`);
    http.close();
    await server.stop();
    let sqlSeconds = 0;
    if (viaSql.length > 0) {
      log(`Lapis: server stopped; writing the other ${fmt(viaSql.length)} runs straight into its SQLite file (seed_lapis.ts)`);
      const t0 = performance.now();
      seedLapisSql(join(dataDir, 'lapis.db'), seed.experimentId, viaSql);
      sqlSeconds = (performance.now() - t0) / 1000;
      log(`  written in ${fmt(sqlSeconds, 1)} s`);
    }
    const t1 = performance.now();
    server = await startLapis({ root: ROOT, dataDir, logDir: WORK });
    const startupMs = performance.now() - t1;
    http = new HttpClient(server.url, 16);
    log(`Lapis: restarted on the seeded database, listening at ${server.url} after ${fmt(startupMs / 1000, 1)} s (pid ${server.pid})`);
    const idleRss = await measureIdle(server);
    log(`  idle RSS ${fmt(mib(idleRss.bytes), 1)} MiB (PSS ${fmt(mib(idleRss.pss), 1)} MiB)`);
    log('Lapis: log-batch ingestion');
    const ingest = await ingestPhase(http, server, CFG.ingest.lapis, 'lapis');
    describeIngest('Lapis', ingest);
    log(`Lapis: search-runs (${CFG.search.warmup} warm-up, ${CFG.search.timed} timed)`);
    const search = await searchPhase(http, server, seed.experimentId, false);
    log(`  p50 ${fmt(search.latency.p50, 1)} ms, p95 ${fmt(search.latency.p95, 1)} ms over ${search.latency.n} queries; other load ${fmt(search.otherCores, 2)} cores`);
    log(`Lapis: get-metric-history (${CFG.history.warmup} warm-up, ${CFG.history.timed} timed)`);
    const history = await historyPhase(http, server, seed.historyRunId, false);
    log(`  p50 ${fmt(history.latency.p50, 1)} ms, p95 ${fmt(history.latency.p95, 1)} ms over ${history.latency.n} calls; other load ${fmt(history.otherCores, 2)} cores`);
    const loadedRss = memory(server);
    log(`  RSS after load ${fmt(mib(loadedRss.bytes), 1)} MiB`);
    return {
      result: {
        startupMs,
        idleRss,
        loadedRss,
        seed: { seconds: seed.runsSeconds + seed.historySeconds + sqlSeconds, how: 'REST API + direct SQL', apiRuns: viaApi.length, apiSeconds: seed.runsSeconds, sqlSeconds },
        ingest,
        search,
        history,
      },
      dataDir,
      searchExperiment: seed.experimentId,
      historyRunId: seed.historyRunId,
    };
  } finally {
    http.close();
    await server.stop();
    log('Lapis: stopped');
  }
}

/**
 * --ingest-only: the search experiment's runs all go in by direct SQL and the history through the
 * API, as in the full bench (same database size, so the same B-tree depth), then the ingestion
 * phase runs `repeat` times on the restarted server, each time into 4 fresh runs.
 */
async function ingestOnly(runs: readonly SeedRun[]): Promise<void> {
  const dataDir = join(WORK, 'lapis');
  let server = await startLapis({ root: ROOT, dataDir, logDir: WORK });
  let http = new HttpClient(server.url, 16);
  let seed: { experimentId: string };
  try {
    log(`Lapis: seeding the history (100 × log-batch), then ${fmt(runs.length)} runs by direct SQL`);
    seed = await seedLapisApi(http, []);
  } finally {
    http.close();
    await server.stop();
  }
  const t0 = performance.now();
  seedLapisSql(join(dataDir, 'lapis.db'), seed.experimentId, runs);
  log(`  written in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  const profDir = join(WORK, 'profiles', 'ingest-only');
  if (OPTS.profile) mkdirSync(profDir, { recursive: true });
  const nodeArgs = OPTS.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  server = await startLapis({ root: ROOT, dataDir, logDir: WORK, nodeArgs });
  http = new HttpClient(server.url, 16);
  const rates: number[] = [];
  try {
    await sleep(CFG.idleSettleMs);
    for (let i = 0; i < OPTS.repeat; i++) {
      const r = await ingestPhase(http, server, CFG.ingest.lapis, `lapis-${i}`);
      describeIngest(`Lapis #${i + 1}`, r);
      if (r.errors > 0) throw new Error(`log-batch failed: ${r.firstError}`);
      rates.push(r.pointsPerSec);
    }
  } finally {
    http.close();
    await server.stop();
  }
  if (OPTS.profile) {
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      const { top, busyMs } = topSelfTime(join(profDir, file), 15);
      console.log(`\nTop self time (${fmt(busyMs)} ms busy, whole server life):\n${top.map((t) => `${fmt(t.share * 100, 1).padStart(5)}%  ${t.fn.slice(0, 50)}  ${t.where}`).join('\n')}`);
    }
  }
  const sorted = [...rates].sort((a, b) => a - b);
  log(`Lapis log-batch ingestion: median ${fmt(sorted[Math.floor((sorted.length - 1) / 2)] as number)} points/s over ${rates.length} (${rates.map((r) => fmt(r)).join(', ')}); target ≥ ${fmt(TARGETS.ingestPps)}`);
}

/**
 * Re-runs one phase against a Lapis started with --cpu-prof on the already seeded data, stops it
 * right after, and returns the top self-time functions of the phase's window.
 */
async function profileLapis(phase: 'ingest' | 'search' | 'history', ctx: { dataDir: string; searchExperiment: string; historyRunId: string }): Promise<{ top: SelfTime[]; busyMs: number; file: string }> {
  const profDir = join(WORK, 'profiles', phase);
  rmSync(profDir, { recursive: true, force: true });
  mkdirSync(profDir, { recursive: true });
  const server = await startLapis({ root: ROOT, dataDir: ctx.dataDir, logDir: profDir, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
  const http = new HttpClient(server.url, 16);
  let phaseStart = 0;
  try {
    if (phase === 'ingest') {
      // Warm-up and run creation happen inside ingestPhase; the window starts with it, as measured.
      phaseStart = performance.now();
      const r = await ingestPhase(http, server, CFG.ingest.lapis, `profile-${Date.now()}`);
      describeIngest('Lapis (profiled)', r);
    } else if (phase === 'search') {
      phaseStart = performance.now();
      await searchPhase(http, server, ctx.searchExperiment, false);
    } else {
      phaseStart = performance.now();
      await historyPhase(http, server, ctx.historyRunId, false);
    }
  } finally {
    http.close();
    await server.stop();
  }
  const windowMs = performance.now() - phaseStart;
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${profDir}`);
  const { top, busyMs } = topSelfTime(join(profDir, file), 10, windowMs);
  return { top, busyMs, file: join(profDir, file) };
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

const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
const times = (x: number): string => (Number.isFinite(x) ? `${x >= 100 ? fmt(x) : fmt(x, 1)}×` : 'n/a');

function rows(l: ServerResult, m: ServerResult): { rows: Row[]; failed: ('ingest' | 'search' | 'history' | 'rss')[] } {
  const failed: ('ingest' | 'search' | 'history' | 'rss')[] = [];
  const ingestRatio = l.ingest.pointsPerSec / m.ingest.pointsPerSec;
  const ingestOk = l.ingest.pointsPerSec >= TARGETS.ingestPps && ingestRatio >= TARGETS.ingestRatio && l.ingest.errors === 0;
  const searchRatio = m.search.latency.p95 / l.search.latency.p95;
  const searchOk = l.search.latency.p95 <= TARGETS.searchP95Ms && searchRatio >= TARGETS.searchRatio;
  const historyOk = l.history.latency.p95 <= TARGETS.historyMs;
  const rssOk = mib(l.idleRss.bytes) <= TARGETS.idleRssMiB;
  if (!ingestOk) failed.push('ingest');
  if (!searchOk) failed.push('search');
  if (!historyOk) failed.push('history');
  if (!rssOk) failed.push('rss');
  const ms = (x: number): string => fmt(x, 1);
  return {
    failed,
    rows: [
      {
        figure: 'log-batch ingestion, points/s',
        lapis: fmt(l.ingest.pointsPerSec),
        mlflow: fmt(m.ingest.pointsPerSec),
        ratio: times(ingestRatio),
        target: `≥ ${fmt(TARGETS.ingestPps)} and ≥ ${TARGETS.ingestRatio}×`,
        result: pass(ingestOk),
      },
      { figure: 'search-runs p50, ms', lapis: ms(l.search.latency.p50), mlflow: ms(m.search.latency.p50), ratio: times(m.search.latency.p50 / l.search.latency.p50), target: '', result: '' },
      {
        figure: 'search-runs p95, ms',
        lapis: ms(l.search.latency.p95),
        mlflow: ms(m.search.latency.p95),
        ratio: times(searchRatio),
        target: `≤ ${TARGETS.searchP95Ms} ms and ≥ ${TARGETS.searchRatio}× faster`,
        result: pass(searchOk),
      },
      { figure: 'get-metric-history first call, ms', lapis: ms(l.history.firstMs), mlflow: ms(m.history.firstMs), ratio: times(m.history.firstMs / l.history.firstMs), target: '', result: '' },
      { figure: 'get-metric-history p50, ms', lapis: ms(l.history.latency.p50), mlflow: ms(m.history.latency.p50), ratio: times(m.history.latency.p50 / l.history.latency.p50), target: '', result: '' },
      {
        figure: 'get-metric-history p95, ms',
        lapis: ms(l.history.latency.p95),
        mlflow: ms(m.history.latency.p95),
        ratio: times(m.history.latency.p95 / l.history.latency.p95),
        target: `≤ ${TARGETS.historyMs} ms`,
        result: pass(historyOk),
      },
      {
        figure: 'idle RSS after start, MiB',
        lapis: fmt(mib(l.idleRss.bytes), 1),
        mlflow: `${fmt(mib(m.idleRss.bytes), 1)} (${m.idleRss.processes} proc)`,
        ratio: times(m.idleRss.bytes / l.idleRss.bytes),
        target: `≤ ${TARGETS.idleRssMiB} MiB`,
        result: pass(rssOk),
      },
      {
        figure: 'RSS after the load, MiB',
        lapis: fmt(mib(l.loadedRss.bytes), 1),
        mlflow: `${fmt(mib(m.loadedRss.bytes), 1)} (${m.loadedRss.processes} proc)`,
        ratio: times(m.loadedRss.bytes / l.loadedRss.bytes),
        target: '',
        result: '',
      },
    ],
  };
}

const HEAD: Row = { figure: 'figure', lapis: 'Lapis', mlflow: 'MLflow', ratio: 'ratio', target: 'target', result: 'result' };



type Machine = Host & { python: string; mlflow: string };

function docsSection(mc: Machine, table: Row[], l: ServerResult, m: ServerResult, agreement: string, totalS: number, profiled: string[]): string {
  const c = CFG;
  const apiRate = (l.seed.apiRuns ?? 0) / (l.seed.apiSeconds ?? Number.NaN);
  const split = m.split;
  const other = (r: ServerResult): string => `${fmt(r.ingest.otherCores, 2)} / ${fmt(r.search.otherCores, 2)} / ${fmt(r.history.otherCores, 2)}`;
  return `## Tracking (${mc.date})

Lapis against MLflow's own tracking server (\`mlflow server\`), one after the other on this machine, driven by
the same load generator (\`bench/lib/\`) over the same data. Run it with \`npm run bench:tracking\` (builds Lapis
first; about 10 minutes; \`-- --no-build\`, \`--no-write\` to only print, \`--runs N\` for a smaller search
experiment, \`--profile\` to CPU-profile Lapis's ingestion, \`--ingest-only [--repeat N]\` for Lapis's ingestion
phase alone). MLflow comes from the cached virtualenv of \`scripts/python-test-env.sh\`; working files go to \`bench/.work/tracking/\`. Each run replaces this section.

${machineLine(mc, `Python ${mc.python}, MLflow ${mc.mlflow}`)}
Whole bench: ${fmt(totalS / 60, 1)} min. Load average before it: ${fmt(mc.loadBefore, 2)}; CPU used by other processes during the timed
ingestion / search / history phases, in cores: Lapis ${other(l)}, MLflow ${other(m)}.

${markdownTable(HEAD, table)}

Ratios are Lapis/MLflow for throughput and MLflow/Lapis for latency and memory (> 1× favours Lapis).

- **log-batch ingestion**: ${c.ingest.clients} concurrent keep-alive clients, each logging to its own run, ${c.ingest.shape.keys * c.ingest.shape.stepsPerRequest} metric points per request (${c.ingest.shape.keys} keys × ${c.ingest.shape.stepsPerRequest} steps), closed loop, bodies serialised before the clock starts.
  Lapis: ${l.ingest.requests} timed requests after ${c.ingest.lapis.warmup} warm-up requests per client; request p50 ${fmt(l.ingest.latency.p50, 1)} ms, p95 ${fmt(l.ingest.latency.p95, 1)} ms, ${l.ingest.errors} errors; the server used ${fmt(l.ingest.serverCores, 2)} cores.
  MLflow: ${m.ingest.requests} timed requests after ${c.ingest.mlflow.warmup} per client; request p50 ${fmt(m.ingest.latency.p50)} ms, p95 ${fmt(m.ingest.latency.p95)} ms, ${m.ingest.errors} errors; the server used ${fmt(m.ingest.serverCores, 2)} cores.
- **search-runs**: ${fmt(RUNS)} runs in one experiment (10 params, 10 metrics, 5 tags + \`mlflow.runName\` each); \`filter: "metrics.m1 < T and params.p1 = 'vK'"\` with T in 0.1–0.9 and K in 0–9, \`order_by: ["metrics.m2 DESC"]\`, \`max_results: 100\`, one client.
  Lapis: ${l.search.latency.n} timed queries after ${c.search.warmup} warm-up. MLflow: the first ${m.search.latency.n} of the same queries after one light warm-up search (no filter, \`max_results: 1\`) (${fmt(m.search.latency.mean / 1000, 1)} s per query on average, so its share is capped at ${c.search.mlflowBudgetMs / 1000} s). ${agreement}
- **get-metric-history**: one metric of ${fmt(c.history.steps)} steps, returned in one response (no \`max_results\`): Lapis ${l.history.latency.n} calls after ${c.history.warmup} warm-up calls, MLflow ${m.history.latency.n} after ${c.history.mlflowWarmup} (capped at ${c.history.mlflowBudgetMs / 1000} s). The target applies to p95. Lapis caches a serialised history until it is written again, so its first call (shown separately) is the uncached cost: reading 100,000 rows and serialising 8 MB of JSON.
- **RSS**: VmRSS from \`/proc/<pid>/status\`, ${c.idleSettleMs / 1000} s after the server answered on the seeded database, and again after all phases. MLflow ran with the defaults of \`mlflow server\` (uvicorn, 4 workers), summed over its process tree and process group:${split ? ` idle, its HTTP processes (launcher, uvicorn, workers) held ${fmt(mib(split.idle.serving), 1)} MiB and the job runner with its huey consumers, which it starts by default, ${fmt(mib(split.idle.jobs), 1)} MiB` : ''}. Summed RSS counts pages shared by forked processes more than once; summed PSS, which does not: MLflow ${fmt(mib(m.idleRss.pss), 1)} MiB idle, ${fmt(mib(m.loadedRss.pss), 1)} MiB after the load; Lapis ${fmt(mib(l.idleRss.pss), 1)} / ${fmt(mib(l.loadedRss.pss), 1)} MiB. Lapis is one Node process.
- **Data**: generated from a fixed seed, the same rows on both servers. MLflow's copy is written straight into its SQLite file by \`bench/tracking/seed_mlflow.py\` (MLflow's SqlAlchemyStore creates the schema and the experiments, then bulk INSERTs fill runs/params/tags/metrics/latest_metrics as its create_run/log_batch write them; the history too): ${fmt(m.seed.seconds, 1)} s.
  Lapis: the first ${fmt(l.seed.apiRuns ?? 0)} runs go through its REST API (runs/create + runs/log-batch per run, ${c.seedConcurrency} concurrent): ${fmt(l.seed.apiSeconds ?? Number.NaN, 1)} s, ${fmt(apiRate)} runs/s, so all ${fmt(RUNS)} would take ${fmt(RUNS / apiRate / 60, 1)} min; the history goes through 100 log-batch calls; then, with the server stopped, \`bench/tracking/seed_lapis.ts\` writes the remaining runs straight into its SQLite file (${fmt(l.seed.sqlSeconds ?? 0, 1)} s) and the server is restarted.${OPTS.mlflowAnalyze ? " MLflow's SQLite file was ANALYZEd after seeding (--mlflow-analyze)." : ' Neither database was ANALYZEd (neither server does it by itself).'}
- The servers ran one after the other (MLflow first), never both at once; the load generator ran on the same machine. Before each timed phase the bench waits up to ${c.quiet.maxWaitMs / 1000} s for other processes to use less than ${c.quiet.otherCores} cores.${
    profiled.length > 0 ? `\n- Missed targets: the bench re-ran the ${profiled.join(', ')} phase${profiled.length > 1 ? 's' : ''} against a Lapis under \`node --cpu-prof\` and printed the top self-time functions (profiles in \`bench/.work/tracking/profiles/\`).` : ''
  }
`;
}


// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  if (OPTS.build) {
    log('Building Lapis (npm run build)');
    sh('npm', ['run', 'build']);
  }
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/cli/main.js is missing: run npm run build');
  if (OPTS.ingestOnly) {
    log(`Ingestion only; load average ${fmt(loadavg()[0] ?? 0, 2)}`);
    await ingestOnly(seedRuns(RUNS));
    return;
  }
  const py = await pythonEnv();
  const machine: Machine = { ...machineInfo(ROOT), python: py.python, mlflow: py.mlflow };
  log(`Machine: ${machine.cores} cores, ${fmt(machine.ramGiB, 1)} GiB, Node ${machine.node}, Python ${machine.python}, MLflow ${machine.mlflow}; load average ${fmt(machine.loadBefore, 2)}`);
  if (machine.loadBefore > 0.5) log('  note: the machine is not idle; other processes will share the 2 cores with the bench');

  log(`Generating ${fmt(RUNS)} runs (seeded PRNG)`);
  const runs = seedRuns(RUNS);
  const runsTsv = join(WORK, 'runs.tsv');
  await writeRunsTsv(runsTsv, runs);

  const mlflow = await benchMlflow(py.venv, runsTsv);
  const lapisRun = await benchLapis(runs);
  const lapis = lapisRun.result;

  // Same data, same answers: compare the run names each server returned for the queries both ran.
  const both = Math.min(lapis.search.names.length, mlflow.search.names.length);
  let same = 0;
  for (let i = 0; i < both; i++) if (JSON.stringify(lapis.search.names[i]) === JSON.stringify(mlflow.search.names[i])) same++;
  const agreement = `Both servers returned the same runs in the same order for ${same} of the ${both} queries both ran.`;
  log(agreement);

  const { rows: table, failed } = rows(lapis, mlflow);
  const profileTargets = new Set<'ingest' | 'search' | 'history'>(failed.filter((f): f is 'ingest' | 'search' | 'history' => f !== 'rss'));
  if (OPTS.profile) profileTargets.add('ingest');
  for (const phase of profileTargets) {
    log(`Profiling Lapis during the ${phase} phase (node --cpu-prof)`);
    const prof = await profileLapis(phase, lapisRun);
    const lines = prof.top.map((t, i) => `${String(i + 1).padStart(2)}. ${fmt(t.share * 100, 1).padStart(5)}%  ${fmt(t.ms).padStart(6)} ms  ${t.fn.length > 60 ? `${t.fn.slice(0, 57)}...` : t.fn}  ${t.where}`);
    console.log(`\nTop self time, Lapis ${phase} phase (${fmt(prof.busyMs)} ms busy on the main thread; ${prof.file}):\n${lines.join('\n')}`);
  }

  const totalS = (performance.now() - started) / 1000;
  console.log(`\n${textTable(HEAD, table)}\n`);
  const apiRate = (lapis.seed.apiRuns ?? 0) / (lapis.seed.apiSeconds ?? Number.NaN);
  console.log(
    `Seeding: MLflow ${fmt(RUNS)} runs by direct SQL in ${fmt(mlflow.seed.seconds, 1)} s. Lapis ${fmt(lapis.seed.apiRuns ?? 0)} runs through its REST API at ${fmt(apiRate)} runs/s ` +
      `(${fmt(RUNS)} would take ${fmt(RUNS / apiRate / 60, 1)} min), the rest by direct SQL in ${fmt(lapis.seed.sqlSeconds ?? 0, 1)} s.`,
  );
  console.log(`MLflow ran ${mlflow.search.latency.n}/${CFG.search.timed} search queries and ${mlflow.history.latency.n}/${CFG.history.timed} history calls within its time budget.`);
  console.log(`Whole bench: ${fmt(totalS / 60, 1)} min.`);
  writeFileSync(join(WORK, 'results.json'), JSON.stringify({ machine, config: CFG, runs: RUNS, lapis: { ...lapis, search: { ...lapis.search, names: undefined } }, mlflow: { ...mlflow, search: { ...mlflow.search, names: undefined } } }, null, 2));
  if (OPTS.write) {
    writeDocsSection(DOCS, 'Tracking', docsSection(machine, table, lapis, mlflow, agreement, totalS, [...profileTargets]));
    log(`Wrote ${DOCS}`);
  }
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) return;
  interrupted = true;
  console.error('\nInterrupted: stopping servers');
  void stopAll().finally(() => process.exit(130));
});
process.on('exit', killAllNow);

main().then(
  async () => {
    await stopAll();
  },
  async (err: unknown) => {
    if (interrupted) return; // the SIGINT handler stops the servers and exits
    console.error(`\nBenchmark failed: ${(err as Error).stack ?? String(err)}`);
    await stopAll();
    process.exitCode = 1;
  },
);
