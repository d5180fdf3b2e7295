/**
 * Registry benchmark: MLflow's own server and Lapis, one after the other on this machine, over the
 * same data. See docs/benchmarks.md (## Registry) for the method.
 *
 *  1. search_model_versions with a two-tag filter over 10,000 registered models × 10 versions:
 *     `GET /api/2.0/mlflow/model-versions/search?filter=tags.team = 'team-K' and tags.stage =
 *     'validated'&max_results=100`, p50/p95 of timed queries after a warm-up, on both servers;
 *     both must return the same versions (checked against each other and the generated data).
 *  2. A 1 GB folder uploaded with `lapis data create -f data.yml`, against a durable copy of the
 *     same folder on the same filesystem in the same run (`cp -r`, then fsync of every copy), with
 *     the Lapis server's peak RSS; MLflow's `log_artifacts` through its artifact proxy as the peer.
 *
 *   npm run bench:registry [-- --no-build] [--no-write] [--profile] [--models N] [--file-mib N]
 *                                [--rounds N] [--no-mlflow-upload] [--keep]
 *
 * Loopback only; every loop is bounded; servers are stopped and the big files deleted on every
 * exit path (SIGINT included).
 */
import { spawn, spawnSync } from 'node:child_process';
import { machineInfo, machineLine, type Machine as Host } from '../lib/machine.js';
import { markdownTable, textTable, writeDocsSection } from '../lib/report.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient, sleep } from '../lib/http.js';
import { summarize, type LatencySummary } from '../lib/load.js';
import { machineBusySeconds, mappedFileRss, rssBytes, rssParts, treeCpuSeconds, treeRss } from '../lib/proc.js';
import { topSelfTime, type SelfTime } from '../lib/profile.js';
import { killAllNow, startLapis, startMlflow, stopAll, type RunningServer } from '../lib/servers.js';
import { expectedMatches, MODELS, seedRegistry, STAGES, TEAMS, VERSIONS, writeVersionsTsv, type SeedVersion } from './dataset.js';
import { seedLapisSql } from './seed_lapis.js';
import { listFiles, makeUploadFolder, timedCopy, timedDd, timedDurableCopy, uploadWithCli, type LocalFile, type Transfer, type UploadTiming } from './upload.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = dirname(fileURLToPath(import.meta.url));
const DOCS = join(ROOT, 'docs/benchmarks.md');
const API = '/api/2.0/mlflow';

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
  keep: flag('--keep'),
  mlflowUpload: !flag('--no-mlflow-upload'),
  models: intOption('--models', MODELS, 100, 100_000),
  fileMiB: intOption('--file-mib', 128, 1, 1024),
  rounds: intOption('--rounds', 3, 1, 10),
};

const CFG = {
  search: { warmup: 3, timed: 50, maxResults: 100, mlflowBudgetMs: 120_000, mlflowMinTimed: 5, verifyTeams: 3 },
  upload: { bigFiles: 8, rssEveryMs: 100, mlflowRounds: 1 },
  quiet: { maxWaitMs: 20_000, otherCores: 0.5 },
};
const TARGETS = { searchP95Ms: 30, searchRatio: 10, uploadShare: 0.8, uploadRssMB: 200 };
const MB = 1e6;

// ---------------------------------------------------------------------------------------------
// Small helpers

const started = performance.now();
const log = (msg: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}`);
const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

function sh(cmd: string, argv: string[]): string {
  const res = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (res.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${res.status}):\n${res.stderr || res.stdout}`);
  return res.stdout.trim();
}

/** Runs a command and resolves with its stdout (stderr is kept for the error message). */
function run(cmd: string, argv: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise(out.trim()) : reject(new Error(`${cmd} exited with ${code}:\n${err.slice(-3000)}`))));
  });
}

/** CPU used by processes other than `pid`'s tree and the bench (and `ownChildrenS` of its children's CPU seconds) over a window. */
function otherCoresMeter(pid: number): (ownChildrenS?: number) => number {
  const t0 = performance.now();
  const s0 = treeCpuSeconds(pid);
  const m0 = machineBusySeconds();
  const b0 = process.cpuUsage();
  return (ownChildrenS = 0) => {
    const wallS = (performance.now() - t0) / 1000;
    const b = process.cpuUsage(b0);
    return Math.max(0, machineBusySeconds() - m0 - (treeCpuSeconds(pid) - s0) - (b.user + b.system) / 1e6 - ownChildrenS) / wallS;
  };
}

/** Waits (bounded) for a 1-second window in which other processes use less than CFG.quiet.otherCores. */
async function waitForQuiet(pid: number): Promise<number> {
  const t0 = performance.now();
  let other = Infinity;
  while (performance.now() - t0 < CFG.quiet.maxWaitMs) {
    const meter = otherCoresMeter(pid);
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

/** Flushes dirty pages so every timed transfer starts without another's write-back backlog. */
function syncDisks(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

// ---------------------------------------------------------------------------------------------
// search_model_versions

interface VersionView {
  name: string;
  version: string;
  tags?: { key: string; value: string }[];
}

interface SearchPhase {
  latency: LatencySummary;
  otherCores: number;
  /** name/version keys of each timed query's page, in answer order. */
  pages: string[][];
  /** Full match sets (all pages) of the verification queries: key → sorted `name/version|tags`. */
  verify: Map<string, string[]>;
  /** The first page under an explicit `order_by: name ASC, version_number DESC`, per verification team. */
  ordered: Map<string, string[]>;
}

const searchFilter = (team: string, stage: string): string => `tags.team = '${team}' and tags.stage = '${stage}'`;
const searchPath = (filter: string, maxResults: number, extra = ''): string => `${API}/model-versions/search?filter=${encodeURIComponent(filter)}&max_results=${maxResults}${extra}`;
/** The timed queries: `validated` versions of team (7·i mod 20), so the team varies from query to query. */
const timedTeam = (i: number): string => TEAMS[(i * 7) % TEAMS.length] as string;

async function search(http: HttpClient, path: string): Promise<{ versions: VersionView[]; next?: string; ms: number }> {
  const res = await http.request('GET', path);
  if (res.status !== 200) throw new Error(`GET ${path} -> HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
  const parsed = JSON.parse(res.body.toString('utf8')) as { model_versions?: VersionView[]; next_page_token?: string };
  const out: { versions: VersionView[]; next?: string; ms: number } = { versions: parsed.model_versions ?? [], ms: res.ms };
  if (parsed.next_page_token) out.next = parsed.next_page_token;
  return out;
}

const key = (v: VersionView): string => `${v.name}/${v.version}`;
const keyWithTags = (v: VersionView): string =>
  `${key(v)}|${(v.tags ?? [])
    .map((t) => `${t.key}=${t.value}`)
    .sort()
    .join(',')}`;

/** Every match of a filter, page by page (bounded). */
async function searchAll(http: HttpClient, filter: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 50; page++) {
    const res = await search(http, searchPath(filter, 1000, token ? `&page_token=${encodeURIComponent(token)}` : ''));
    out.push(...res.versions.map(keyWithTags));
    token = res.next;
    if (!token) return out.sort();
  }
  throw new Error(`more than 50 pages for ${filter}`);
}

async function searchPhase(http: HttpClient, server: RunningServer, mlflow: boolean): Promise<SearchPhase> {
  const { warmup, timed, maxResults, mlflowBudgetMs, mlflowMinTimed, verifyTeams } = CFG.search;
  // Warm-up on other queries than the timed ones (the `candidate` stage).
  for (let i = 0; i < warmup; i++) await search(http, searchPath(searchFilter(timedTeam(i + 1), 'candidate'), maxResults));
  const otherCores0 = await waitForQuiet(server.pid);
  const meter = otherCoresMeter(server.pid);
  const latencies: number[] = [];
  const pages: string[][] = [];
  const t0 = performance.now();
  for (let i = 0; i < timed; i++) {
    if (mlflow && i >= mlflowMinTimed && performance.now() - t0 > mlflowBudgetMs) break;
    const res = await search(http, searchPath(searchFilter(timedTeam(i), 'validated'), maxResults));
    latencies.push(res.ms);
    pages.push(res.versions.map(key));
  }
  const otherCores = Math.max(otherCores0, meter());
  const verify = new Map<string, string[]>();
  const ordered = new Map<string, string[]>();
  for (let i = 0; i < verifyTeams; i++) {
    const filter = searchFilter(timedTeam(i), 'validated');
    verify.set(filter, await searchAll(http, filter));
    const res = await search(http, searchPath(filter, maxResults, `&order_by=${encodeURIComponent('name ASC')}&order_by=${encodeURIComponent('version_number DESC')}`));
    ordered.set(filter, res.versions.map(key));
  }
  return { latency: summarize(latencies), otherCores, pages, verify, ordered };
}

function describeSearch(name: string, s: SearchPhase): void {
  log(`  ${name}: p50 ${fmt(s.latency.p50, 1)} ms, p95 ${fmt(s.latency.p95, 1)} ms, max ${fmt(s.latency.max, 1)} ms over ${s.latency.n} queries (${fmt(s.pages[0]?.length ?? 0)} versions a page); other load ${fmt(s.otherCores, 2)} cores`);
}

// ---------------------------------------------------------------------------------------------
// Upload

interface RssWatch {
  stop(): { peak: number; samples: number; hwm: number | undefined };
}

/** Samples VmRSS of one process every `everyMs`; also resets and reads the kernel's VmHWM. */
function watchRss(pid: number, everyMs: number): RssWatch {
  let peak = rssBytes(pid);
  let samples = 1;
  let hwmReset = false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM (peak RSS) to the current RSS
    hwmReset = true;
  } catch {
    // not permitted: rely on the samples
  }
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
    samples++;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, rssBytes(pid));
      let hwm: number | undefined;
      if (hwmReset) {
        const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) hwm = Number(m[1]) * 1024;
      }
      return { peak, samples, hwm };
    },
  };
}

interface UploadRound {
  /** `cp -r` into the page cache (the old reference). */
  copyMs: number;
  /** `cp -r`, then fsync of every copied file and folder (the reference). */
  durableMs: number;
  /** `dd conv=fsync` of each file, summed (the raw disk). */
  ddMs: number;
  /** `lapis data create` as it runs on the server's machine: the files copied into its store. */
  upload: UploadTiming;
  /** Direct again, the big files' hashes in the CLI's hash cache (a re-upload with one file changed). */
  warmUpload: UploadTiming;
  /** The same over HTTP (LAPIS_DIRECT_UPLOAD=0), as from another machine. */
  httpUpload: UploadTiming;
  /** Peak server RSS over both uploads. */
  rssPeak: number;
  rssHwm: number | undefined;
  samples: number;
  otherCores: number;
  /** CPU seconds over the direct upload: the Lapis server, and the CLI (hash threads included). */
  serverCpuS: number;
  clientCpuS: number;
  /** The same over the HTTP upload. */
  httpServerCpuS: number;
  httpClientCpuS: number;
}

interface UploadPhase {
  rounds: UploadRound[];
  bytes: number;
  files: number;
  rssBefore: number;
}

/** A per-round small file, so each round is a new upload (new manifest hash), not a re-commit. */
function roundFolder(folder: string, round: string): LocalFile[] {
  writeFileSync(join(folder, 'round.txt'), `round ${round} ${Date.now()}\n`);
  return listFiles(folder);
}

async function uploadPhase(server: RunningServer, folder: string, work: string, dataDir: string, count: number, firstRound = 0): Promise<UploadPhase> {
  const rounds: UploadRound[] = [];
  const rssBefore = rssBytes(server.pid);
  log(`  server RSS before the uploads: ${fmt(rssBefore / MB, 1)} MB`);
  let files: LocalFile[] = [];
  for (let r = firstRound; r < firstRound + count; r++) {
    files = roundFolder(folder, String(r));
    // The disk's own speed for this folder, on the same filesystem, in the same conditions; each
    // copy is deleted and synced away before the next transfer.
    syncDisks();
    const other0 = await waitForQuiet(server.pid);
    const copyTo = join(work, 'copy');
    const copyMs = await timedCopy(folder, copyTo);
    rmSync(copyTo, { recursive: true, force: true });
    syncDisks();
    const durableMs = await timedDurableCopy(folder, copyTo);
    rmSync(copyTo, { recursive: true, force: true });
    syncDisks();
    const ddMs = await timedDd(files, copyTo);
    rmSync(copyTo, { recursive: true, force: true });
    syncDisks();
    const meter = otherCoresMeter(server.pid);
    const watch = watchRss(server.pid, CFG.upload.rssEveryMs);
    const measured = async (version: string, transfer: Transfer, configDir: string): Promise<{ upload: UploadTiming; serverCpuS: number }> => {
      const cpu0 = treeCpuSeconds(server.pid);
      const upload = await uploadWithCli(ROOT, server.url, folder, work, files, version, { transfer, configDir });
      return { upload, serverCpuS: treeCpuSeconds(server.pid) - cpu0 };
    };
    const freshConfig = (): string => mkdtempSync(join(work, 'cli-config-'));
    let direct: Awaited<ReturnType<typeof measured>>;
    let warm: Awaited<ReturnType<typeof measured>>;
    let http: Awaited<ReturnType<typeof measured>>;
    try {
      const config = freshConfig();
      direct = await measured(String(r), 'direct', config);
      // New content each time (round.txt), on a disk without the last upload's write-back: again
      // with the hash cache the first upload left (only round.txt is read), then over HTTP.
      files = roundFolder(folder, `${r}-warm`);
      syncDisks();
      warm = await measured(`${r}.1`, 'direct', config);
      files = roundFolder(folder, `${r}-http`);
      syncDisks();
      http = await measured(`${r}.2`, 'http', freshConfig());
    } catch (err) {
      watch.stop();
      throw err;
    }
    const rss = watch.stop();
    const upload = direct.upload;
    const otherCores = Math.max(other0, meter(upload.clientCpuS + http.upload.clientCpuS));
    const bytes = upload.bytes;
    const rate = (ms: number): string => `${fmt(bytes / MB / (ms / 1000))} MB/s (${fmt(ms)} ms)`;
    log(
      `  ${count === 1 && firstRound > 0 ? 'upload' : `round ${r + 1}`}: cp -r ${rate(copyMs)}; cp -r + fsync ${rate(durableMs)}; dd conv=fsync ${rate(ddMs)}; ` +
        `lapis data create ${rate(upload.totalMs)} direct, ${rate(warm.upload.totalMs)} direct with the hash cache, ${rate(http.upload.totalMs)} over HTTP; server peak RSS ${fmt(rss.peak / MB, 1)} MB (${rss.samples} samples${rss.hwm !== undefined ? `, VmHWM ${fmt(rss.hwm / MB, 1)} MB` : ''}); ` +
        `CPU direct: server ${fmt(direct.serverCpuS, 2)} s, CLI ${fmt(upload.clientCpuS, 2)} s; HTTP: server ${fmt(http.serverCpuS, 2)} s, CLI ${fmt(http.upload.clientCpuS, 2)} s; other load ${fmt(otherCores, 2)} cores`,
    );
    rounds.push({
      copyMs,
      durableMs,
      ddMs,
      upload,
      warmUpload: warm.upload,
      httpUpload: http.upload,
      rssPeak: rss.peak,
      rssHwm: rss.hwm,
      samples: rss.samples,
      otherCores,
      serverCpuS: direct.serverCpuS,
      clientCpuS: upload.clientCpuS,
      httpServerCpuS: http.serverCpuS,
      httpClientCpuS: http.upload.clientCpuS,
    });
    // Drop what the server stored: the figure is about the transfer, the disk stays bounded.
    for (const hash of [upload.hash, warm.upload.hash, http.upload.hash]) {
      const stored = join(dataDir, 'artifacts', 'default', 'content', hash);
      if (existsSync(stored)) rmSync(stored, { recursive: true, force: true });
      else log(`  note: the upload is not under ${stored}; it stays until the data dir is removed`);
    }
  }
  return { rounds, bytes: rounds[0]?.upload.bytes ?? 0, files: files.length, rssBefore };
}

interface MlflowUpload {
  seconds: number[];
  bytes: number;
  files: number;
  rssPeak: number;
  processes: number;
}

async function mlflowUpload(venv: string, server: RunningServer, folder: string): Promise<MlflowUpload> {
  syncDisks();
  await waitForQuiet(server.pid);
  let peak = 0;
  let processes = 0;
  const timer = setInterval(() => {
    const t = treeRss(server.pid);
    if (t.bytes > peak) {
      peak = t.bytes;
      processes = t.processes;
    }
  }, 250);
  try {
    const out = await run(join(venv, 'bin/python'), [join(HERE, 'mlflow_upload.py'), '--tracking-uri', server.url, '--dir', folder, '--rounds', String(CFG.upload.mlflowRounds)]);
    const res = JSON.parse(out.split('\n').pop() as string) as { seconds: number[]; bytes: number; files: number };
    return { ...res, rssPeak: peak, processes };
  } finally {
    clearInterval(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

async function pythonEnv(): Promise<{ venv: string; python: string; mlflow: string }> {
  log('MLflow venv: bash scripts/python-test-env.sh');
  const venv = (await run('bash', ['scripts/python-test-env.sh'])).split('\n').pop() as string;
  const info = sh(join(venv, 'bin/python'), ['-c', 'import sys, importlib.metadata as m; print(sys.version.split()[0]); print(m.version("mlflow"))']).split('\n');
  return { venv, python: info[0] ?? '?', mlflow: info[1] ?? '?' };
}

interface MlflowResult {
  seedSeconds: number;
  search: SearchPhase;
  upload?: MlflowUpload;
  uploadError?: string;
}

async function benchMlflow(work: string, venv: string, tsv: string, folder: string): Promise<MlflowResult> {
  const dir = join(work, 'mlflow');
  mkdirSync(dir, { recursive: true });
  const dbPath = join(dir, 'mlflow.db');
  log(`MLflow: creating the schema (SqlAlchemyStore) and writing ${fmt(OPTS.models)} models × ${VERSIONS} versions straight into ${dbPath} (seed_mlflow.py)`);
  const t0 = performance.now();
  const seedOut = await run(join(venv, 'bin/python'), [join(HERE, 'seed_mlflow.py'), '--db', dbPath, '--versions-tsv', tsv]);
  const seed = JSON.parse(seedOut.split('\n').pop() as string) as { models: number; versions: number; tags: number; schema_seconds: number; rows_seconds: number };
  const seedSeconds = (performance.now() - t0) / 1000;
  log(`  ${fmt(seed.models)} models, ${fmt(seed.versions)} versions, ${fmt(seed.tags)} tags in ${fmt(seedSeconds, 1)} s (schema ${fmt(seed.schema_seconds, 1)} s, rows ${fmt(seed.rows_seconds, 1)} s)`);
  const t1 = performance.now();
  const server = await startMlflow({ venv, dbPath, artifactsDir: join(dir, 'art'), logDir: dir });
  const http = new HttpClient(server.url, 4);
  try {
    log(`MLflow: healthy at ${server.url} after ${fmt((performance.now() - t1) / 1000, 1)} s (pid ${server.pid}, default uvicorn workers)`);
    log(`MLflow: search_model_versions (${CFG.search.warmup} warm-up, up to ${CFG.search.timed} timed, ${CFG.search.mlflowBudgetMs / 1000} s budget)`);
    const s = await searchPhase(http, server, true);
    describeSearch('MLflow', s);
    const result: MlflowResult = { seedSeconds, search: s };
    if (OPTS.mlflowUpload) {
      log(`MLflow: MlflowClient.log_artifacts of the same folder through the artifact proxy (${CFG.upload.mlflowRounds} round)`);
      try {
        result.upload = await mlflowUpload(venv, server, folder);
        const secs = median(result.upload.seconds);
        log(`  ${fmt(result.upload.bytes / MB / secs)} MB/s (${fmt(secs, 2)} s for ${fmt(result.upload.bytes / MB)} MB in ${result.upload.files} files); server tree peak RSS ${fmt(result.upload.rssPeak / MB)} MB over ${result.upload.processes} processes`);
      } catch (err) {
        result.uploadError = (err as Error).message.split('\n').slice(-3).join(' ');
        log(`  log_artifacts failed: ${result.uploadError}`);
      }
      rmSync(join(dir, 'art'), { recursive: true, force: true });
    }
    return result;
  } finally {
    http.close();
    await server.stop();
    log('MLflow: stopped');
  }
}

interface LapisResult {
  seedSeconds: number;
  search: SearchPhase;
  upload: UploadPhase;
  /** One upload on the server that had just served the search phase (RSS context, not in the medians). */
  afterSearchUpload: UploadPhase;
  idleRss: number;
  afterSearchRss: number;
  afterSearchParts: ReturnType<typeof rssParts>;
  /** The database file's pages SQLite maps for reads, in that server's RSS (the smaller of before and after its upload). */
  afterSearchDb: ReturnType<typeof mappedFileRss>;
}

async function benchLapis(work: string, data: ReturnType<typeof seedRegistry>, folder: string): Promise<LapisResult> {
  const dataDir = join(work, 'lapis');
  let server = await startLapis({ root: ROOT, dataDir, logDir: work });
  log(`Lapis: listening at ${server.url} (pid ${server.pid}) on an empty data dir: migrations ran; stopping it`);
  await server.stop();
  log(`Lapis: writing ${fmt(data.models.length)} models × ${VERSIONS} versions straight into its SQLite file (seed_lapis.ts)`);
  const t0 = performance.now();
  seedLapisSql(join(dataDir, 'lapis.db'), data.models, data.versions);
  const seedSeconds = (performance.now() - t0) / 1000;
  log(`  written in ${fmt(seedSeconds, 1)} s`);
  // On disk before the server starts: its pages of the file are then the page cache's clean copies.
  syncDisks();
  server = await startLapis({ root: ROOT, dataDir, logDir: work });
  const http = new HttpClient(server.url, 4);
  let s: SearchPhase;
  let idleRss: number;
  let afterSearchRss: number;
  let afterSearchParts: ReturnType<typeof rssParts>;
  let afterSearchUpload: UploadPhase;
  let afterSearchDb: ReturnType<typeof mappedFileRss>;
  try {
    await sleep(2_000);
    idleRss = rssBytes(server.pid);
    log(`Lapis: restarted on the seeded database at ${server.url} (pid ${server.pid}); RSS ${fmt(idleRss / MB, 1)} MB`);
    log(`Lapis: search_model_versions (${CFG.search.warmup} warm-up, ${CFG.search.timed} timed)`);
    s = await searchPhase(http, server, false);
    describeSearch('Lapis', s);
    afterSearchRss = rssBytes(server.pid);
    afterSearchParts = rssParts(server.pid);
    log(`  RSS after the searches (and the 1,000-version verification pages): ${fmt(afterSearchRss / MB, 1)} MB (${partsText(afterSearchParts)})`);
    const dbFile = realpathSync(join(dataDir, 'lapis.db'));
    const dbBefore = mappedFileRss(server.pid, dbFile);
    log(`  of it, the database file SQLite maps for reads: ${fmt(dbBefore.rss / MB, 1)} MB (${fmt(dbBefore.dirty / MB, 1)} MB of it dirty)`);
    if (dbBefore.rss === 0) log(`  warning: /proc/${server.pid}/smaps shows no mapping of ${dbFile}; the "less the database file" row is then the whole RSS`);
    log('Lapis: one content upload on this same server (for its RSS; its throughput is not in the medians)');
    afterSearchUpload = await uploadPhase(server, folder, work, dataDir, 1, 100);
    const dbAfter = mappedFileRss(server.pid, dbFile);
    afterSearchDb = dbAfter.rss < dbBefore.rss ? dbAfter : dbBefore;
  } finally {
    http.close();
    await server.stop();
  }
  // The upload gets a server of its own, so its RSS figure is the upload's, not the searches' heap.
  server = await startLapis({ root: ROOT, dataDir, logDir: work });
  try {
    await sleep(2_000);
    log(`Lapis: restarted for the uploads at ${server.url} (pid ${server.pid}); RSS ${fmt(rssBytes(server.pid) / MB, 1)} MB`);
    log(`Lapis: content upload of ${fmt(OPTS.rounds)} rounds (each: cp -r, cp -r + fsync and dd of the folder, then lapis data create)`);
    const upload = await uploadPhase(server, folder, work, dataDir, OPTS.rounds);
    return { seedSeconds, search: s, upload, afterSearchUpload, idleRss, afterSearchRss, afterSearchParts, afterSearchDb };
  } finally {
    await server.stop();
    log('Lapis: stopped');
  }
}

/**
 * Re-runs one phase against a Lapis started with --cpu-prof on the seeded data, stops it right
 * after, and returns the top self-time functions of the phase's window.
 */
async function profileLapis(work: string, phase: 'search' | 'upload', folder: string): Promise<{ top: SelfTime[]; busyMs: number; idleMs: number; file: string }> {
  const dataDir = join(work, 'lapis');
  const profDir = join(work, 'profiles', phase);
  rmSync(profDir, { recursive: true, force: true });
  mkdirSync(profDir, { recursive: true });
  const server = await startLapis({ root: ROOT, dataDir, logDir: profDir, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
  const http = new HttpClient(server.url, 4);
  let phaseStart = 0;
  try {
    if (phase === 'search') {
      for (let i = 0; i < CFG.search.warmup; i++) await search(http, searchPath(searchFilter(timedTeam(i + 1), 'candidate'), CFG.search.maxResults));
      phaseStart = performance.now();
      for (let i = 0; i < CFG.search.timed; i++) await search(http, searchPath(searchFilter(timedTeam(i), 'validated'), CFG.search.maxResults));
    } else {
      const files = roundFolder(folder, '99');
      syncDisks();
      phaseStart = performance.now();
      const u = await uploadWithCli(ROOT, server.url, folder, work, files, '99', { configDir: mkdtempSync(join(work, 'cli-config-')) });
      log(`  profiled upload: ${fmt(u.bytes / MB / (u.totalMs / 1000))} MB/s (CLI CPU ${fmt(u.clientCpuS, 2)} s)`);
      rmSync(join(dataDir, 'artifacts', 'default', 'content', u.hash), { recursive: true, force: true });
    }
  } finally {
    http.close();
    await server.stop();
  }
  const windowMs = performance.now() - phaseStart;
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${profDir}`);
  return { ...topSelfTime(join(profDir, file), 12, windowMs), file: join(profDir, file) };
}

// ---------------------------------------------------------------------------------------------
// Checks and report

/** Do both servers answer the same versions (and tags), and what the data says they should? */
function agreement(l: SearchPhase, m: SearchPhase, versions: readonly SeedVersion[]): { ok: boolean; text: string } {
  const lines: string[] = [];
  let ok = true;
  for (const [filter, lset] of l.verify) {
    const mset = m.verify.get(filter) ?? [];
    const team = /tags\.team = '([^']+)'/.exec(filter)?.[1] as string;
    const expected = expectedMatches(versions, team, 'validated');
    const lKeys = lset.map((s) => s.split('|')[0]);
    const same = lset.length === mset.length && lset.every((x, i) => x === mset[i]);
    const right = lKeys.length === expected.size && lKeys.every((k) => expected.has(k as string));
    ok &&= same && right;
    lines.push(`\`${filter}\`: ${fmt(lset.length)} versions from Lapis, ${fmt(mset.length)} from MLflow, ${same ? 'identical (names, versions and tags)' : 'DIFFERENT'}; ${right ? 'exactly the generated matches' : 'NOT the generated matches'}`);
  }
  let orderedSame = 0;
  for (const [filter, lpage] of l.ordered) {
    const mpage = m.ordered.get(filter) ?? [];
    if (lpage.length > 0 && JSON.stringify(lpage) === JSON.stringify(mpage)) orderedSame++;
  }
  ok &&= orderedSame === l.ordered.size;
  // The timed pages themselves: default orders differ (MLflow: last_updated_timestamp DESC first).
  const n = Math.min(l.pages.length, m.pages.length);
  let sameSet = 0;
  for (let i = 0; i < n; i++) {
    const a = new Set(l.pages[i]);
    if ((m.pages[i] ?? []).length === a.size && (m.pages[i] ?? []).every((k) => a.has(k))) sameSet++;
  }
  const text =
    `Both servers return the same versions: for ${lines.length} of the timed filters, every match (all pages, max_results=1000) — ${lines.join('; ')}. ` +
    `The first page under an explicit \`order_by: [name ASC, version_number DESC]\` was identical, in order, for ${orderedSame} of ${l.ordered.size}. ` +
    `The timed pages (no order_by, each server's default order) held the same set of 100 for ${sameSet} of the ${n} queries both ran` +
    (sameSet < n ? ": MLflow's default order is `last_updated_timestamp DESC, name ASC, version_number DESC`, Lapis's `name ASC, version DESC`, so their first pages of a larger match set differ." : '.');
  return { ok, text };
}

interface Row {
  figure: string;
  lapis: string;
  reference: string;
  ratio: string;
  target: string;
  result: string;
}
const HEAD: Row = { figure: 'figure', lapis: 'Lapis', reference: 'reference', ratio: 'ratio', target: 'target', result: 'result' };
const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
const times = (x: number): string => (Number.isFinite(x) ? `${x >= 100 ? fmt(x) : fmt(x, 1)}×` : 'n/a');

interface Figures {
  /** The reference: `cp -r` + fsync. */
  durableMBs: number;
  /** The old reference: `cp -r` into the page cache. */
  copyMBs: number;
  ddMBs: number;
  /** `lapis data create` on the server's machine (a direct upload). */
  uploadMBs: number;
  /** Direct, with the big files' hashes cached. */
  warmMBs: number;
  /** The same over HTTP, as from another machine. */
  httpMBs: number;
  share: number;
  rssPeak: number;
  rssPeakAfterSearch: number;
  /** The same less the mapped database file: the memory the server itself holds. */
  rssPeakAfterSearchOwn: number;
  mlflowMBs: number;
}

function figures(l: LapisResult, m: MlflowResult): Figures {
  const bytes = l.upload.bytes;
  const rate = (pick: (r: UploadRound) => number): number => median(l.upload.rounds.map((r) => bytes / MB / (pick(r) / 1000)));
  const durableMBs = rate((r) => r.durableMs);
  const copyMBs = rate((r) => r.copyMs);
  const ddMBs = rate((r) => r.ddMs);
  const uploadMBs = rate((r) => r.upload.totalMs);
  const httpMBs = rate((r) => r.httpUpload.totalMs);
  const warmMBs = rate((r) => r.warmUpload.totalMs);
  const peakOf = (p: UploadPhase): number => Math.max(...p.rounds.map((r) => Math.max(r.rssPeak, r.rssHwm ?? 0)));
  const mlflowMBs = m.upload ? m.upload.bytes / MB / median(m.upload.seconds) : Number.NaN;
  const rssPeakAfterSearch = peakOf(l.afterSearchUpload);
  return { durableMBs, copyMBs, ddMBs, uploadMBs, warmMBs, httpMBs, share: uploadMBs / durableMBs, rssPeak: peakOf(l.upload), rssPeakAfterSearch, rssPeakAfterSearchOwn: rssPeakAfterSearch - l.afterSearchDb.rss, mlflowMBs };
}

function rows(l: LapisResult, m: MlflowResult, f: Figures, agreeOk: boolean): { rows: Row[]; failed: ('search' | 'upload')[] } {
  const failed: ('search' | 'upload')[] = [];
  const searchRatio = m.search.latency.p95 / l.search.latency.p95;
  const searchOk = l.search.latency.p95 <= TARGETS.searchP95Ms && searchRatio >= TARGETS.searchRatio && agreeOk;
  const uploadOk = f.share >= TARGETS.uploadShare;
  const rssOk = f.rssPeak < TARGETS.uploadRssMB * MB;
  const rssAfterSearchOk = f.rssPeakAfterSearchOwn < TARGETS.uploadRssMB * MB;
  if (!searchOk) failed.push('search');
  if (!uploadOk || !rssOk || !rssAfterSearchOk) failed.push('upload');
  const ms = (x: number): string => fmt(x, 1);
  const table: Row[] = [
    { figure: 'search_model_versions p50, ms', lapis: ms(l.search.latency.p50), reference: `MLflow ${ms(m.search.latency.p50)}`, ratio: times(m.search.latency.p50 / l.search.latency.p50), target: '', result: '' },
    {
      figure: 'search_model_versions p95, ms',
      lapis: ms(l.search.latency.p95),
      reference: `MLflow ${ms(m.search.latency.p95)}`,
      ratio: times(searchRatio),
      target: `≤ ${TARGETS.searchP95Ms} ms and ≥ ${TARGETS.searchRatio}× faster${agreeOk ? '' : ' (answers differ!)'}`,
      result: pass(searchOk),
    },
    {
      figure: `${fmt(l.upload.bytes / MB)} MB \`lapis data create\`, MB/s`,
      lapis: fmt(f.uploadMBs),
      reference: `cp -r + fsync ${fmt(f.durableMBs)}`,
      ratio: `${fmt(f.share * 100)} %`,
      target: `≥ ${fmt(TARGETS.uploadShare * 100)} % of the durable disk copy`,
      result: pass(uploadOk),
    },
    { figure: '… old reference: cp -r into the page cache, MB/s', lapis: fmt(f.uploadMBs), reference: `cp -r ${fmt(f.copyMBs)}`, ratio: `${fmt((f.uploadMBs / f.copyMBs) * 100)} %`, target: '', result: '' },
    { figure: '… raw disk: dd conv=fsync, MB/s', lapis: fmt(f.uploadMBs), reference: `dd ${fmt(f.ddMBs)}`, ratio: `${fmt((f.uploadMBs / f.ddMBs) * 100)} %`, target: '', result: '' },
    {
      figure: '… re-upload, one file changed (hash cache), MB/s',
      lapis: fmt(f.warmMBs),
      reference: `cp -r + fsync ${fmt(f.durableMBs)}`,
      ratio: `${fmt((f.warmMBs / f.durableMBs) * 100)} %`,
      target: '',
      result: '',
    },
    {
      figure: '… over HTTP (as from another machine), MB/s',
      lapis: fmt(f.httpMBs),
      reference: `cp -r + fsync ${fmt(f.durableMBs)}`,
      ratio: `${fmt((f.httpMBs / f.durableMBs) * 100)} %`,
      target: '',
      result: '',
    },
    {
      figure: 'server peak RSS during the upload, MB',
      lapis: fmt(f.rssPeak / MB, 1),
      reference: m.upload ? `MLflow ${fmt(m.upload.rssPeak / MB)} (${m.upload.processes} proc)` : '',
      ratio: m.upload ? times(m.upload.rssPeak / f.rssPeak) : '',
      target: `< ${TARGETS.uploadRssMB} MB`,
      result: pass(rssOk),
    },
    {
      figure: '… same, right after the search phase, MB',
      lapis: fmt(f.rssPeakAfterSearch / MB, 1),
      reference: '',
      ratio: '',
      target: '',
      result: '',
    },
    {
      figure: '… less the database file SQLite maps for reads, MB',
      lapis: fmt(f.rssPeakAfterSearchOwn / MB, 1),
      reference: '',
      ratio: '',
      target: `< ${TARGETS.uploadRssMB} MB`,
      result: pass(rssAfterSearchOk),
    },
  ];
  if (m.upload) {
    table.push({ figure: 'same folder over HTTP vs MLflow log_artifacts, MB/s', lapis: fmt(f.httpMBs), reference: `MLflow ${fmt(f.mlflowMBs)}`, ratio: times(f.httpMBs / f.mlflowMBs), target: '', result: '' });
  }
  return { rows: table, failed };
}



type Machine = Host & { python: string; mlflow: string; fs: string };

/** `ext4 on /dev/…`: the filesystem the upload and the copy write to. */
function filesystemOf(path: string): string {
  try {
    const out = sh('df', ['--output=source,fstype', path]).split('\n')[1]?.trim().split(/\s+/) ?? [];
    return `${out[1] ?? '?'} on ${out[0] ?? '?'}`;
  } catch {
    return 'unknown filesystem';
  }
}

function docsSection(mc: Machine, table: Row[], l: LapisResult, m: MlflowResult, f: Figures, agree: string, totalS: number, profiles: string): string {
  const c = CFG;
  const up = l.upload;
  const rounds = up.rounds
    .map((r, i) => {
      const rate = (ms: number): string => fmt(up.bytes / MB / (ms / 1000));
      return `${i + 1}: cp -r + fsync ${rate(r.durableMs)} / cp -r ${rate(r.copyMs)} / dd ${rate(r.ddMs)} / Lapis ${rate(r.upload.totalMs)} direct (CPU server ${fmt(r.serverCpuS, 2)} s, CLI ${fmt(r.clientCpuS, 2)} s), ${rate(r.warmUpload.totalMs)} direct with the hash cache, ${rate(r.httpUpload.totalMs)} over HTTP (CPU server ${fmt(r.httpServerCpuS, 2)} s, CLI ${fmt(r.httpClientCpuS, 2)} s) MB/s`;
    })
    .join('; ');
  const mlflowUp = m.upload
    ? `MLflow's peer figure is \`MlflowClient.log_artifacts\` of the same folder to a new run of its server (artifact proxy, \`--artifacts-destination\`; its client PUTs the files one after the other, and neither side hashes them): ${fmt(median(m.upload.seconds), 2)} s, ${fmt(f.mlflowMBs)} MB/s; its process tree peaked at ${fmt(m.upload.rssPeak / MB)} MB summed RSS (sampled every 250 ms).`
    : m.uploadError
      ? `MLflow's log_artifacts peer figure failed: ${m.uploadError}.`
      : "MLflow's log_artifacts peer figure was skipped (--no-mlflow-upload).";
  return `## Registry (${mc.date})

\`npm run bench:registry\` (\`-- --no-write\` to print only, \`--profile\` to CPU-profile the Lapis phases, \`--models 1000 --file-mib 16 --no-build\` for a quick run).
${machineLine(mc, `Python ${mc.python}, MLflow ${mc.mlflow}; work files on ${mc.fs}`)}${BUILD_NOTE ? ` Build: ${BUILD_NOTE}.` : ''}
Whole bench: ${fmt(totalS / 60, 1)} min. Load average before it: ${fmt(mc.loadBefore, 2)}; CPU used by other processes during the timed searches: Lapis ${fmt(l.search.otherCores, 2)}, MLflow ${fmt(m.search.otherCores, 2)} cores; during the uploads: ${up.rounds.map((r) => fmt(r.otherCores, 2)).join(' / ')} cores.

${markdownTable(HEAD, table)}

Latency and memory ratios are MLflow/Lapis (> 1× favours Lapis); throughput ratios Lapis/reference. MB = 10^6 bytes.

- **search_model_versions**: ${fmt(OPTS.models)} registered models × ${VERSIONS} versions = ${fmt(OPTS.models * VERSIONS)} versions, each tagged \`stage\` (${STAGES.join(' / ')}, drawn per version), \`team\` (${TEAMS.length} teams, one per model) and a unique \`ticket\`. \`GET ${API}/model-versions/search?filter=tags.team = 'team-K' and tags.stage = 'validated'&max_results=${c.search.maxResults}\` (URL-encoded), K = 7·i mod ${TEAMS.length} for query i, one client, keep-alive; about ${fmt((OPTS.models * VERSIONS) / TEAMS.length / STAGES.length)} versions match each filter. Lapis: ${l.search.latency.n} timed queries after ${c.search.warmup} warm-up queries (\`stage = 'candidate'\`). MLflow: ${m.search.latency.n} of the same timed queries after the same warm-up${m.search.latency.n < c.search.timed ? ` (capped at ${c.search.mlflowBudgetMs / 1000} s)` : ''}, default \`mlflow server\` (uvicorn, 4 workers).
  ${agree}
- **Data**: generated from a fixed seed, the same rows on both servers, written straight into each SQLite file (100,000 versions through either REST API would take too long). MLflow: \`bench/registry/seed_mlflow.py\` lets MLflow's model-registry SqlAlchemyStore create the schema, then bulk-INSERTs \`registered_models\`, \`model_versions\`, \`model_version_tags\` (workspace \`default\`) as \`create_registered_model\`/\`create_model_version\` write them: ${fmt(m.seedSeconds, 1)} s. Lapis: started once on an empty data dir (migrations), stopped, \`bench/registry/seed_lapis.ts\` inserts the same rows with better-sqlite3 (${fmt(l.seedSeconds, 1)} s), started again. Neither database was ANALYZEd.
- **Content upload**: a folder of ${c.upload.bigFiles} × ${OPTS.fileMiB} MiB random files plus ${up.files - c.upload.bigFiles} small ones (${fmt(up.bytes / MB)} MB), generated once in a temp dir on the same filesystem as the Lapis data dir, and read from the page cache by every transfer. Timed as a user runs it: \`lapis data create -f data.yml -o json\` (\`type: uri_folder\`, \`path:\` the folder), from the CLI's spawn to its exit. Each upload gets a new CLI config folder, so its hash cache is empty and every file is hashed (SHA-256, on worker threads), unless said otherwise; a small \`round.txt\` changes every upload's content hash, so the server never holds it already. As on the server's machine by default (the headline row), a **direct upload**: the server opens a staging folder in its file store, the CLI checks it can read the token the server wrote beside it (same machine, same user) and copies the files in (\`copyFile\`: a kernel copy, a clone where the filesystem has them) and fsyncs each, 8 at a time, while the worker threads hash them; the CLI asks whether the server holds that content, and the commit moves the copies into place (each fsynced again, a no-op by then, and its folder). The **re-upload** row is the same right after, with only \`round.txt\` changed and the first upload's hash cache: the big files are not read again, only copied. **Over HTTP** (LAPIS_DIRECT_UPLOAD=0, as from another machine), the CLI PUTs the files 4 at a time over keep-alive \`node:http\` connections with their SHA-256 in \`x-lapis-sha256\`; the server hashes every byte again on the way in (an upload from elsewhere is verified, never trusted), writes it to its file blob store and fsyncs each file and its folder. Each upload ends with the commit and the asset's creation. Each round runs the three, one after the other, each on new content after a \`sync\`.
  **The reference is a durable copy**: \`cp -r\` of the folder to the same filesystem, then \`sync\` of every copied file and folder (fsync each), timed together. A registry must have the bytes on disk before it reports an upload stored, as Lapis does; a copy that ends in the page cache (\`cp -r\` alone, the reference before 2026-11-26) measures memory bandwidth, not the disk, and finishes before its data is safe. Both are shown, with the raw disk (\`dd bs=8M conv=fsync\` of each file, one after the other, summed). Every copy runs just before each upload and is deleted and synced away (untimed) before the next transfer, so none inherits another's write-back. ${up.rounds.length} rounds, medians reported: ${rounds}.
  Peak RSS: VmRSS of the Lapis server from \`/proc/<pid>/status\` every ${c.upload.rssEveryMs} ms during each round's three uploads, and the kernel's VmHWM (reset through \`/proc/<pid>/clear_refs\` before each round); the larger is reported. The timed uploads ran on a freshly restarted server (RSS before them: ${fmt(up.rssBefore / MB, 1)} MB), so that figure is the upload's own. One more upload ran, before that restart, on the server that had just served the search phase including its 1,000-version verification pages (${fmt(l.idleRss / MB, 1)} MB after start, ${fmt(l.afterSearchRss / MB, 1)} MB after the searches: ${partsText(l.afterSearchParts)}): the "right after the search phase" row (that upload: ${fmt(l.afterSearchUpload.bytes / MB / ((l.afterSearchUpload.rounds[0]?.upload.totalMs ?? Number.NaN) / 1000))} MB/s, not in the medians). ${fmt(l.afterSearchDb.rss / MB, 1)} MB of that server's RSS were pages of its database file, which SQLite maps for reads (\`mmap_size\`; /proc/<pid>/smaps, ${fmt(l.afterSearchDb.dirty / MB, 1)} MB of them dirty): the kernel's page cache, shared with every reader of the file, ${l.afterSearchDb.dirty === 0 ? 'and all clean: dropped under memory pressure without a write' : 'the clean ones dropped under memory pressure without a write, the dirty ones once written back'}. A server reading with \`pread\` instead would hold the same pages in the page cache, outside its RSS; the row below it leaves them out, and the target applies to it. Reading without the map (\`mmap_size = 0\`, 16 MiB of SQLite cache) was measured on 2026-11-27: RSS after these searches fell to 157 MB, but search-runs of bench:tracking slowed from 34 to 47 ms at the median (its p95 target is 50 ms), so Lapis keeps the map.
  ${mlflowUp}
- The servers ran one after the other (MLflow first), never both at once; the load generator and the upload client ran on the same machine. Before each timed phase (and each upload round) the bench waits up to ${c.quiet.maxWaitMs / 1000} s for other processes to use less than ${c.quiet.otherCores} cores.
${profiles}`;
}


// ---------------------------------------------------------------------------------------------
// Main

let WORK = '';
let BUILD_NOTE = '';

function cleanup(): void {
  if (!WORK) return;
  // The big files always go; the small ones (logs, profiles, results.json) stay with --keep or for the report.
  for (const p of ['upload', 'copy', 'lapis', join('mlflow', 'art')]) rmSync(join(WORK, p), { recursive: true, force: true });
  if (!OPTS.keep) {
    rmSync(join(WORK, 'mlflow', 'mlflow.db'), { force: true });
    rmSync(join(WORK, 'versions.tsv'), { force: true });
  }
}

async function main(): Promise<void> {
  WORK = mkdtempSync(join(tmpdir(), 'lapis-bench-registry-'));
  log(`Work dir: ${WORK}`);
  if (OPTS.build) {
    log('Building Lapis (npm run build)');
    try {
      sh('npm', ['run', 'build']);
    } catch (err) {
      // tsc still emits on type errors: files other engineers are editing may fail to type-check.
      const errors = (err as Error).message.split('\n').filter((l) => /error TS/.test(l));
      if (errors.length === 0 || !existsSync(join(ROOT, 'dist/cli/main.js'))) throw err;
      BUILD_NOTE = `npm run build reported ${errors.length} type error(s) (${[...new Set(errors.map((l) => l.split('(')[0]))].join(', ')}); tsc emitted dist/ anyway and the bench used it`;
      log(`  note: ${BUILD_NOTE}`);
    }
  }
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/cli/main.js is missing: run npm run build');
  const py = await pythonEnv();
  const machine: Machine = { ...machineInfo(ROOT), python: py.python, mlflow: py.mlflow, fs: filesystemOf(WORK) };
  log(`Machine: ${machine.cores} cores, ${fmt(machine.ramGiB, 1)} GiB, Node ${machine.node}, Python ${machine.python}, MLflow ${machine.mlflow}; load average ${fmt(machine.loadBefore, 2)}; ${machine.fs}`);

  log(`Generating ${fmt(OPTS.models)} models × ${VERSIONS} versions (seeded PRNG)`);
  const data = seedRegistry(OPTS.models, VERSIONS);
  const tsv = join(WORK, 'versions.tsv');
  await writeVersionsTsv(tsv, data.versions);
  const folder = join(WORK, 'upload');
  log(`Generating the upload folder: ${CFG.upload.bigFiles} × ${OPTS.fileMiB} MiB of random bytes + small files in ${folder}`);
  const t0 = performance.now();
  const files = await makeUploadFolder(folder, CFG.upload.bigFiles, OPTS.fileMiB << 20);
  log(`  ${files.length} files, ${fmt(files.reduce((n, f) => n + f.size, 0) / MB)} MB in ${fmt((performance.now() - t0) / 1000, 1)} s`);

  const mlflow = await benchMlflow(WORK, py.venv, tsv, folder);
  const lapis = await benchLapis(WORK, data, folder);

  const agree = agreement(lapis.search, mlflow.search, data.versions);
  log(agree.text);
  const f = figures(lapis, mlflow);
  const { rows: table, failed } = rows(lapis, mlflow, f, agree.ok);

  const phases = new Set<'search' | 'upload'>(failed);
  if (OPTS.profile) {
    phases.add('search');
    phases.add('upload');
  }
  let profileText = '';
  for (const phase of phases) {
    log(`Profiling Lapis during the ${phase} phase (node --cpu-prof)`);
    const prof = await profileLapis(WORK, phase, folder);
    const lines = prof.top.map((t, i) => `${String(i + 1).padStart(2)}. ${fmt(t.share * 100, 1).padStart(5)}%  ${fmt(t.ms).padStart(6)} ms  ${t.fn}  ${t.where}`);
    const head = `Top self time of the Lapis server, ${phase} phase (\`node --cpu-prof\`, ${fmt(prof.busyMs)} ms busy and ${fmt(prof.idleMs)} ms idle on its main thread in the window)`;
    console.log(`\n${head}; ${prof.file}:\n${lines.join('\n')}\n`);
    profileText += `\n${head}:\n\n\`\`\`\n${lines.join('\n')}\n\`\`\`\n`;
  }

  const totalS = (performance.now() - started) / 1000;
  console.log(`\n${textTable(HEAD, table)}\n`);
  console.log(`Answers: ${agree.ok ? 'both servers returned the same versions' : 'THE SERVERS DISAGREE'} — see above.`);
  console.log(`MLflow ran ${mlflow.search.latency.n}/${CFG.search.timed} timed searches. Seeding by direct SQL: MLflow ${fmt(mlflow.seedSeconds, 1)} s, Lapis ${fmt(lapis.seedSeconds, 1)} s.`);
  console.log(`Whole bench: ${fmt(totalS / 60, 1)} min.`);
  const strip = (s: SearchPhase): unknown => ({ latency: s.latency, otherCores: s.otherCores });
  writeFileSync(
    join(WORK, 'results.json'),
    JSON.stringify({ machine, config: CFG, opts: OPTS, figures: f, lapis: { ...lapis, search: strip(lapis.search) }, mlflow: { ...mlflow, search: strip(mlflow.search) }, agreement: agree }, null, 2),
  );
  if (OPTS.write) {
    writeDocsSection(DOCS, 'Registry', docsSection(machine, table, lapis, mlflow, f, agree.text, totalS, profileText));
    log(`Wrote the ## Registry section of ${DOCS}`);
  }
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) return;
  interrupted = true;
  console.error('\nInterrupted: stopping servers, removing the big files');
  void stopAll().finally(() => {
    cleanup();
    process.exit(130);
  });
});
process.on('exit', killAllNow);

main().then(
  async () => {
    await stopAll();
    cleanup();
    log(`Small files (logs, results.json${OPTS.profile ? ', profiles' : ''}) are in ${WORK}`);
  },
  async (err: unknown) => {
    console.error(`\nBenchmark failed: ${(err as Error).stack ?? String(err)}`);
    await stopAll();
    cleanup();
    console.error(`Logs: ${WORK}`);
    process.exitCode = 1;
  },
);

/** What a resident set is made of, for the report. */
function partsText(p: ReturnType<typeof rssParts>): string {
  return `anonymous ${fmt(p.anon / MB, 1)} MB — heaps and native allocations — and file-backed ${fmt(p.file / MB, 1)} MB — code and the database file SQLite maps (mmap_size), page cache the kernel can reclaim${p.shmem ? `; shared ${fmt(p.shmem / MB, 1)} MB` : ''}`;
}
