/**
 * Auth benchmark: what authentication + authorization add to a cached, authenticated read.
 *
 * The same data dir is served with `--auth off`, measured, stopped, then served with `--auth on`
 * and measured again with a token, for `GET /api/2.0/mlflow/runs/get?run_id=…`: N requests over C
 * concurrent keep-alive connections (closed loop) after a warm-up. The pair is repeated for a few
 * rounds, alternating, and the medians of the rounds are compared, so that drift of the machine
 * does not land on one side only. The target: auth on adds at most 5 % to the p50 latency.
 *
 * The token belongs to a Reader of the workspace (not the admin, whom authorize() lets through
 * before looking at roles), so the measured path is the whole one: header → credential cache →
 * rate limiter → workspace lookup → membership and role check → audit hook.
 *
 *   npm run bench:auth [-- --requests 5000] [--connections 8] [--warmup 1000] [--rounds 5] [--no-build] [--no-write]
 *
 * Only Node built-ins; loopback only; every loop is bounded.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeDocsSection } from '../lib/report.js';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg } from 'node:os';
import { machineInfo, machineLine } from '../lib/machine.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WORK = join(ROOT, 'bench/.work/auth');
const DOCS = join(ROOT, 'docs/benchmarks.md');
const API = '/api/2.0/mlflow';
const TARGET_OVERHEAD = 0.05;
/** Before each timed phase, wait (bounded) until the whole machine is nearly idle. */
const QUIET = { maxWaitMs: 60_000, cores: 0.3 };

// ---- parameters -------------------------------------------------------------------------------------

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
function intOption(name: string, fallback: number, min: number, max: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}`);
  return n;
}
const CFG = {
  requests: intOption('--requests', 5_000, 100, 1_000_000),
  connections: intOption('--connections', 8, 1, 256),
  warmup: intOption('--warmup', 1_000, 0, 1_000_000),
  rounds: intOption('--rounds', 5, 1, 20),
  build: !flag('--no-build'),
  write: !flag('--no-write'),
};

const started = performance.now();
const log = (msg: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}`);
const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${fmt(x * 100, 1)} %`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- the server -------------------------------------------------------------------------------------

interface Server {
  url: URL;
  pid: number;
  /** The bootstrap admin token, printed on the first start with --auth on. */
  bootstrapToken: string | undefined;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of live) child.kill('SIGKILL');
    process.exit(130);
  });
}

async function startServer(dataDir: string, auth: 'on' | 'off', expectToken = false): Promise<Server> {
  const argv = ['dist/cli/main.js', 'server', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--auth', auth, '--log-level', 'warn'];
  const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LAPIS_ADMIN_PASSWORD: '' } });
  live.add(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-10_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    live.delete(child);
  };
  try {
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start within 30 s\n${out}\n${err}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening at (http:\/\/\S+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolveUrl(m[1]);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before listening\n${out}\n${err}`));
      });
    });
    // On the first start with auth on, the admin token follows the banner in a second write.
    const tokenPattern = /^\s+(lapis_\S+)\s*$/m;
    for (let i = 0; expectToken && i < 250 && !tokenPattern.test(out); i++) await sleep(20);
    const token = tokenPattern.exec(out)?.[1];
    const parsed = new URL(url);
    if (parsed.hostname !== '127.0.0.1') throw new Error(`expected a loopback server, got ${url}`);
    return { url: parsed, pid: child.pid ?? 0, bootstrapToken: token, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ---- HTTP ---------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  body: string;
}

function request(agent: http.Agent, url: URL, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolveAnswer, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: payload ? { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolveAnswer({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function json(agent: http.Agent, url: URL, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Record<string, unknown>> {
  const res = await request(agent, url, method, path, headers, body);
  if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${path} → ${res.status}: ${res.body.slice(0, 500)}`);
  return JSON.parse(res.body) as Record<string, unknown>;
}

// ---- load -----------------------------------------------------------------------------------------------

interface Measurement {
  requests: number;
  /** Server CPU time (user + system) per request, in microseconds: insensitive to what else runs on the machine. */
  cpuUs: number;
  wallMs: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  rps: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1] as number;
}

/** `total` requests over `connections` closed-loop workers on one keep-alive agent; every answer must be 200. */
async function closedLoop(url: URL, path: string, headers: Record<string, string>, total: number, connections: number): Promise<Measurement> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const latencies = new Float64Array(total);
  let next = 0;
  let failure: string | undefined;
  const t0 = performance.now();
  try {
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (failure === undefined && next < total) {
          const i = next++;
          const s = performance.now();
          const res = await request(agent, url, 'GET', path, headers);
          latencies[i] = performance.now() - s;
          if (res.status !== 200) failure ??= `GET ${path} → ${res.status}: ${res.body.slice(0, 300)}`;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  const wallMs = performance.now() - t0;
  if (failure !== undefined) throw new Error(failure);
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  return {
    requests: total,
    wallMs,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    rps: total / (wallMs / 1000),
    cpuUs: Number.NaN,
  };
}

/** CPU seconds (user + system) a process has used so far (Linux /proc; NaN elsewhere). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU time of the whole machine, in core-seconds (Linux /proc/stat; 0 elsewhere). */
function machineBusySeconds(): number {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return (fields.slice(0, 8).reduce((a, b) => a + b, 0) - idle) / 100;
  } catch {
    return 0;
  }
}

/** Waits (at most QUIET.maxWaitMs) until the machine uses less than QUIET.cores cores over one second; returns the last reading. */
async function waitForQuiet(): Promise<number> {
  let busy = Number.NaN;
  const deadline = performance.now() + QUIET.maxWaitMs;
  do {
    const before = machineBusySeconds();
    await sleep(1_000);
    busy = machineBusySeconds() - before;
  } while (busy > QUIET.cores && performance.now() < deadline);
  return busy;
}

async function measure(server: Server, path: string, headers: Record<string, string>): Promise<Measurement & { busyBefore: number; busyDuring: number }> {
  if (CFG.warmup > 0) await closedLoop(server.url, path, headers, CFG.warmup, CFG.connections);
  const busyBefore = await waitForQuiet();
  const b0 = machineBusySeconds();
  const c0 = processCpuSeconds(server.pid);
  const m = await closedLoop(server.url, path, headers, CFG.requests, CFG.connections);
  const cpuUs = ((processCpuSeconds(server.pid) - c0) / m.requests) * 1e6;
  return { ...m, cpuUs, busyBefore, busyDuring: (machineBusySeconds() - b0) / (m.wallMs / 1000) };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

function medianOf(ms: readonly Measurement[]): Measurement {
  const pick = (k: keyof Measurement): number => median(ms.map((m) => m[k]));
  return { requests: pick('requests'), wallMs: pick('wallMs'), p50: pick('p50'), p95: pick('p95'), p99: pick('p99'), mean: pick('mean'), rps: pick('rps'), cpuUs: pick('cpuUs') };
}

// ---- the data ---------------------------------------------------------------------------------------------

/** One run shaped like a real one: 20 params, 20 metrics with a short history, 10 tags. */
async function seed(url: URL, headers: Record<string, string>): Promise<string> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const experimentId = (await json(agent, url, 'POST', `${API}/experiments/create`, headers, { name: 'auth-bench' })).experiment_id as string;
    const run = (await json(agent, url, 'POST', `${API}/runs/create`, headers, { experiment_id: experimentId, run_name: 'auth-bench-run' })).run as { info: { run_id: string } };
    const runId = run.info.run_id;
    const t = Date.now();
    await json(agent, url, 'POST', `${API}/runs/log-batch`, headers, {
      run_id: runId,
      params: Array.from({ length: 20 }, (_, i) => ({ key: `param_${i}`, value: `value-${i}-${'x'.repeat(i)}` })),
      metrics: Array.from({ length: 20 }, (_, i) => Array.from({ length: 5 }, (__, step) => ({ key: `metric_${i}`, value: i + step / 10, timestamp: t + step, step }))).flat(),
      tags: Array.from({ length: 10 }, (_, i) => ({ key: `tag_${i}`, value: `tag value ${i}` })),
    });
    return runId;
  } finally {
    agent.destroy();
  }
}

// ---- the check alone, in-process ---------------------------------------------------------------------------------

interface CheckCost {
  /** CPU microseconds per request of what the access layer does with auth off (local admin) and on (Reader token). */
  offUs: number;
  onUs: number;
  iterations: number;
}

/**
 * The access layer's own work per request, without HTTP: the same calls its onRequest hook makes,
 * on the bench's data dir (servers stopped), timed by this process's CPU clock so other load on
 * the machine barely moves it. Auth off: local admin → rate limiter → workspace → membership →
 * authorize. Auth on: Authorization header → credential cache → the same. The difference is what
 * auth adds to each request, against the server CPU a runs/get costs in all.
 */
async function checkCost(dataDir: string, token: string, iterations: number): Promise<CheckCost> {
  const { openDatabase } = await import('../../src/store/db.js');
  const { AuthService, LOCAL_ADMIN } = await import('../../src/auth/service.js');
  const { RateLimiter } = await import('../../src/auth/throttle.js');
  const { WorkspaceService } = await import('../../src/workspaces/service.js');
  const database = await openDatabase(`sqlite:///${join(dataDir, 'lapis.db')}`);
  try {
    const auth = new AuthService(database);
    const workspaces = new WorkspaceService(database, async () => {
      throw new Error('the bench creates no workspace');
    });
    const limiter = new RateLimiter(0);
    const header = `Bearer ${token}`;
    type AuthPrincipal = NonNullable<Awaited<ReturnType<typeof auth.authenticate>>>;
    const check = async (principal: AuthPrincipal): Promise<void> => {
      if (limiter.take(principal.id) > 0) throw new Error('rate limited');
      if (!(await workspaces.find('default')) || !(await auth.isMember(principal, 'default'))) throw new Error('not a member');
      if (!(await auth.authorize(principal, 'runs/read', 'default'))) throw new Error('not allowed');
    };
    const off = async (): Promise<void> => check(LOCAL_ADMIN);
    const on = async (): Promise<void> => {
      const principal = await auth.authenticate(header);
      if (!principal) throw new Error('no principal');
      await check(principal);
    };
    const cpuPer = async (fn: () => Promise<void>): Promise<number> => {
      const c0 = process.cpuUsage();
      for (let i = 0; i < iterations; i++) await fn();
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / iterations;
    };
    // Warm both paths (caches, JIT), then alternate, keeping the best of three of each.
    await cpuPer(off);
    await cpuPer(on);
    const offs: number[] = [];
    const ons: number[] = [];
    for (let i = 0; i < 3; i++) {
      offs.push(await cpuPer(off));
      ons.push(await cpuPer(on));
    }
    return { offUs: Math.min(...offs), onUs: Math.min(...ons), iterations };
  } finally {
    await database.close();
  }
}

// ---- reporting ------------------------------------------------------------------------------------------------

interface Result {
  off: Measurement;
  on: Measurement;
  rounds: { off: Measurement; on: Measurement }[];
  overhead: { p50: number; p95: number; rps: number; cpu: number };
  pass: boolean;
  check: CheckCost;
  /** Timed phases that started while other processes kept the machine busy (their latencies are noise). */
  busyPhases: number;
}

function table(r: Result): string[] {
  const row = (name: string, m: Measurement): string => `| ${name} | ${fmt(m.p50, 3)} | ${fmt(m.p95, 3)} | ${fmt(m.p99, 3)} | ${fmt(m.rps)} | ${fmt(m.cpuUs)} |`;
  return [
    '| Server | p50 ms | p95 ms | p99 ms | requests/s | server CPU µs/request |',
    '|---|--:|--:|--:|--:|--:|',
    row('`--auth off`', r.off),
    row('`--auth on`, Reader token', r.on),
    `| Change, on vs off | ${pct(r.overhead.p50)} | ${pct(r.overhead.p95)} | | ${pct(-r.overhead.rps)} | ${pct(r.overhead.cpu)} |`,
  ];
}

function docsSection(r: Result, loadBefore: number): string {
  const date = new Date().toISOString().slice(0, 10);
  const perRound = r.rounds.map((x, i) => `round ${i + 1}: p50 ${fmt(x.off.p50, 3)} → ${fmt(x.on.p50, 3)} ms (${pct(x.on.p50 / x.off.p50 - 1)})`).join('; ');
  return [
    `## Auth (${date})`,
    '',
    `${machineLine(machineInfo(ROOT))} Load average before: ${fmt(loadBefore, 2)}.`,
    '',
    ...table(r),
    '',
    `**${r.pass ? 'PASS' : 'FAIL'}**: authentication and authorization add ${pct(r.overhead.p50)} to the p50 latency (target ≤ ${fmt(TARGET_OVERHEAD * 100)} %) and ${pct(r.overhead.cpu)} to the server's CPU time per request.` +
      (r.busyPhases > 0 ? ` Caution: ${r.busyPhases} of ${r.rounds.length * 2} timed phases started while other processes kept the machine busy, so the latencies and CPU times carry their noise; the in-process cost of the check (below) is the steadier figure.` : ''),
    '',
    `- **Request**: \`GET ${API}/runs/get?run_id=…\` of one run with 20 params, 20 metrics and 10 tags, in the \`default\` workspace; SQLite and local artifacts in one data dir.`,
    `- **Load**: ${fmt(CFG.requests)} timed requests after ${fmt(CFG.warmup)} warm-up requests, ${CFG.connections} concurrent keep-alive connections (closed loop, Node's http client on the same machine, loopback). Every answer was a 200.`,
    `- **Servers**: the same data dir served with \`--auth off\`, then with \`--auth on\` (one server at a time, \`--log-level warn\` for both), ${CFG.rounds} rounds alternating off/on; the table shows the median of the rounds (${perRound}). Before each timed phase the bench waits up to ${QUIET.maxWaitMs / 1000} s for the machine to use less than ${QUIET.cores} cores.`,
    `- **The check alone**: the access layer's calls without HTTP, in-process on the same data dir (${fmt(r.check.iterations)} iterations, best of 3, CPU time): ${fmt(r.check.offUs, 2)} µs per request with auth off, ${fmt(r.check.onUs, 2)} µs with a Reader token, so auth adds ${fmt(r.check.onUs - r.check.offUs, 2)} µs to the ${fmt(r.off.cpuUs)} µs of server CPU a runs/get costs (${pct((r.check.onUs - r.check.offUs) / r.off.cpuUs)}). This figure hardly moves with other load on the machine.`,
    '- **Token**: a Reader of the workspace, so each request goes the whole way: Authorization header → credential cache (10 s) → rate limiter (off) → workspace → membership and role check → audit hook (reads are not written). The admin would skip the role check.',
    '',
  ].join('\n');
}


// ---- main -------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (CFG.build) {
    log('Building Lapis (npm run build)');
    const res = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`npm run build failed:\n${res.stdout}\n${res.stderr}`);
  }
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/cli/main.js is missing: run npm run build (or drop --no-build)');
  rmSync(WORK, { recursive: true, force: true });
  const dataDir = join(WORK, 'data');
  mkdirSync(dataDir, { recursive: true });
  const loadBefore = loadavg()[0] ?? Number.NaN;
  log(`${cpus().length} cores, load average ${fmt(loadBefore, 2)}; ${fmt(CFG.requests)} requests × ${CFG.rounds} rounds per mode, ${CFG.connections} connections, ${fmt(CFG.warmup)} warm-up`);

  // Seed with auth off (no credentials needed), then create the Reader on the first start with auth on.
  let runId: string;
  {
    const s = await startServer(dataDir, 'off');
    try {
      runId = await seed(s.url, {});
    } finally {
      await s.stop();
    }
  }
  let readerToken: string;
  {
    const s = await startServer(dataDir, 'on', true);
    try {
      if (!s.bootstrapToken) throw new Error('the first start with --auth on printed no admin token');
      const admin = { authorization: `Bearer ${s.bootstrapToken}` };
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        await json(agent, s.url, 'POST', '/api/v1/users', admin, { name: 'bench-reader' });
        await json(agent, s.url, 'POST', '/api/v1/role-assignments', admin, { principal: 'bench-reader', role: 'Reader' });
        readerToken = (await json(agent, s.url, 'POST', '/api/v1/tokens', admin, { principal: 'bench-reader', name: 'bench' })).token as string;
        // The token is refused without its role and accepted with it: the bench measures a real check.
        const check = await request(agent, s.url, 'GET', `${API}/runs/get?run_id=${runId}`, { authorization: `Bearer ${readerToken}` });
        if (check.status !== 200) throw new Error(`the Reader cannot read the run: ${check.status} ${check.body}`);
        const anonymous = await request(agent, s.url, 'GET', `${API}/runs/get?run_id=${runId}`, {});
        if (anonymous.status !== 401) throw new Error(`auth on answered ${anonymous.status} without a token`);
      } finally {
        agent.destroy();
      }
    } finally {
      await s.stop();
    }
  }

  const path = `${API}/runs/get?run_id=${runId}`;
  const rounds: { off: Measurement & { busyBefore: number }; on: Measurement & { busyBefore: number } }[] = [];
  for (let round = 1; round <= CFG.rounds; round++) {
    const results = {} as { off: Measurement & { busyBefore: number; busyDuring: number }; on: Measurement & { busyBefore: number; busyDuring: number } };
    for (const mode of ['off', 'on'] as const) {
      const s = await startServer(dataDir, mode);
      try {
        results[mode] = await measure(s, path, mode === 'on' ? { authorization: `Bearer ${readerToken}` } : {});
      } finally {
        await s.stop();
      }
      const m = results[mode];
      log(
        `round ${round} auth ${mode.padEnd(3)}: p50 ${fmt(m.p50, 3)} ms, p95 ${fmt(m.p95, 3)} ms, p99 ${fmt(m.p99, 3)} ms, ${fmt(m.rps)} req/s, server CPU ${fmt(m.cpuUs)} µs/request (${fmt(m.wallMs / 1000, 2)} s; machine busy ${fmt(m.busyBefore, 2)} cores before, ${fmt(m.busyDuring, 2)} during)`,
      );
    }
    rounds.push(results);
  }

  const off = medianOf(rounds.map((r) => r.off));
  const on = medianOf(rounds.map((r) => r.on));
  const overhead = { p50: on.p50 / off.p50 - 1, p95: on.p95 / off.p95 - 1, rps: 1 - on.rps / off.rps, cpu: on.cpuUs / off.cpuUs - 1 };
  const busyPhases = rounds.flatMap((r) => [r.off, r.on]).filter((m) => m.busyBefore > QUIET.cores).length;
  log('Timing the access check alone, in-process');
  const check = await checkCost(dataDir, readerToken, 100_000);
  const result: Result = { off, on, rounds, overhead, pass: overhead.p50 <= TARGET_OVERHEAD, busyPhases, check };

  console.log('');
  console.log(`GET ${API}/runs/get, ${fmt(CFG.requests)} requests, ${CFG.connections} keep-alive connections, median of ${CFG.rounds} rounds:`);
  console.log(`  auth off:  p50 ${fmt(off.p50, 3)} ms  p95 ${fmt(off.p95, 3)} ms  p99 ${fmt(off.p99, 3)} ms  ${fmt(off.rps)} req/s  server CPU ${fmt(off.cpuUs)} µs/request`);
  console.log(`  auth on:   p50 ${fmt(on.p50, 3)} ms  p95 ${fmt(on.p95, 3)} ms  p99 ${fmt(on.p99, 3)} ms  ${fmt(on.rps)} req/s  server CPU ${fmt(on.cpuUs)} µs/request`);
  console.log(`  overhead:  p50 ${pct(overhead.p50)}, p95 ${pct(overhead.p95)}, throughput ${pct(-overhead.rps)}, server CPU per request ${pct(overhead.cpu)}`);
  console.log(
    `  the check alone (in-process, CPU): ${fmt(check.offUs, 2)} µs auth off, ${fmt(check.onUs, 2)} µs auth on: +${fmt(check.onUs - check.offUs, 2)} µs per request = ${pct((check.onUs - check.offUs) / off.cpuUs)} of a runs/get's server CPU`,
  );
  if (busyPhases > 0) console.log(`  caution: ${busyPhases} of ${rounds.length * 2} timed phases started on a busy machine (other processes > ${QUIET.cores} cores): latencies are noisy`);
  console.log(`${result.pass ? 'PASS' : 'FAIL'}: auth adds ${pct(overhead.p50)} to the p50 latency (target ≤ ${fmt(TARGET_OVERHEAD * 100)} %)`);

  if (CFG.write) {
    writeDocsSection(DOCS, 'Auth', docsSection(result, loadBefore));
    log(`Wrote the ## Auth section of ${DOCS}`);
  }
  rmSync(WORK, { recursive: true, force: true });
  if (!result.pass) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  for (const child of live) child.kill('SIGKILL');
  process.exit(2);
});
