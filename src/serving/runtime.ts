/**
 * The Python runtime of online deployments. Each instance is a pool of long-lived scoring hosts
 * (python/lapis_score, see docs/scoring-host.md): one process per worker (the deployment's
 * WORKER_COUNT, default 1), each on its own loopback port, so that scoring runs on as many cores
 * (and GILs) as there are workers. An instance is routed to once every worker's /ready answers 200
 * and gives each request to the ready worker with the fewest in flight. A worker that exits fails
 * its in-flight requests with a clear 502 and is restarted with backoff while its siblings go on
 * serving; one whose init() failed stays down with its traceback instead of flapping. Requests go
 * to a worker as frames (frames.ts) on kept-alive connections; probes use its HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tail } from '../compute/tail.js';
import { request as httpRequest } from 'node:http';
import { DeploymentSet, type RunningDeployment } from './deployments.js';
import type { InstanceState, InstanceView, ScoreAnswer, ScoringInstance } from './instance.js';
import { FramePool } from './frames.js';
import { watchWorker, type ProbedWorker, type Probes } from './probes.js';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HOST_SCRIPT = fileURLToPath(new URL('../../python/lapis_score/__main__.py', import.meta.url));
const STARTUP_LIMIT_MS = 300_000;
const MAX_BACKOFF_MS = 30_000;

export interface InstanceSpec {
  /** `<endpoint>/<deployment>`. */
  key: string;
  python: string;
  modelDir: string;
  codeDir?: string;
  scoringScript?: string;
  env: Record<string, string>;
  instanceCount: number;
  workersPerInstance: number;
  maxConcurrent: number;
  probes: Probes;
  logDir: string;
}

/** One scoring process of an instance. */
interface HostWorker extends ProbedWorker {
  index: number;
  port: number;
  frames: FramePool | undefined;
  child: ChildProcess | undefined;
  inflight: number;
  restarts: number;
  /** The traceback of a failed init(): this worker is never routed to nor restarted. */
  error?: string;
}

interface Deployment extends RunningDeployment<PythonInstance> {
  spec: InstanceSpec;
}

class PythonInstance implements ScoringInstance {
  state: InstanceState = 'starting';
  inflight = 0;
  restarts = 0;
  readonly workers: HostWorker[];
  stopped = false;
  #next = 0;

  constructor(
    readonly index: number,
    readonly d: Deployment,
  ) {
    this.workers = Array.from({ length: d.spec.workersPerInstance }, (_, i) => ({ index: i, port: 0, frames: undefined, child: undefined, ready: false, inflight: 0, restarts: 0 }));
  }

  get error(): string | undefined {
    return this.workers.find((w) => w.error)?.error;
  }

  async score(body: Buffer | undefined, contentType: string, timeoutMs: number): Promise<ScoreAnswer> {
    const w = this.#pickWorker();
    if (!w?.frames) throw new Error('no scoring process of this instance is ready');
    w.inflight += 1;
    try {
      return await w.frames.score(body, contentType, timeoutMs);
    } finally {
      w.inflight -= 1;
    }
  }

  /** The ready worker with the fewest requests in flight, round robin among equals. */
  #pickWorker(): HostWorker | undefined {
    let best: HostWorker | undefined;
    for (let n = 0; n < this.workers.length; n++) {
      const w = this.workers[(this.#next + n) % this.workers.length] as HostWorker;
      if (w.ready && (!best || w.inflight < best.inflight)) best = w;
    }
    if (best) this.#next = (best.index + 1) % this.workers.length;
    return best;
  }

  /** Starts one worker; resolves once its /ready answers 200, rejects with why it never will. */
  async launch(w: HostWorker): Promise<void> {
    w.port = await freePort();
    w.frames = new FramePool(w.port);
    w.ready = false;
    const { spec, log } = this.d;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...spec.env,
      LAPIS_SCORE_PORT: String(w.port),
      LAPIS_SCORE_THREADS: String(spec.maxConcurrent),
      AZUREML_MODEL_DIR: spec.modelDir,
      LAPIS_DEPLOYMENT: spec.key,
      PYTHONUNBUFFERED: '1',
      ...(spec.codeDir ? { LAPIS_CODE_DIR: spec.codeDir } : {}),
      ...(spec.scoringScript ? { LAPIS_SCORING_SCRIPT: spec.scoringScript } : {}),
    };
    for (const k of Object.keys(env)) if (/^(LAPIS_(TOKEN|SERVER_KEY|ADMIN_PASSWORD)|AWS_|MLFLOW_TRACKING_TOKEN)/.test(k)) delete env[k];
    const child = spawn(spec.python, [HOST_SCRIPT], { cwd: spec.codeDir ?? spec.modelDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    w.child = child;
    const prefix = this.workers.length > 1 ? `[instance ${this.index}] [worker ${w.index}] ` : `[instance ${this.index}] `;
    const write = (chunk: Buffer) => log.write(chunk.toString().replace(/^(?=.)/gm, prefix));
    child.stdout?.on('data', write);
    child.stderr?.on('data', write);
    child.once('exit', (code, signal) => {
      w.unwatch?.();
      w.frames?.close();
      w.child = undefined;
      w.ready = false;
      w.unready = false;
      this.#refreshState();
      if (this.stopped || w.error) return;
      log.write(`${prefix}[lapis] the scoring process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; restarting\n`);
      w.restarts += 1;
      this.restarts += 1;
      this.#refreshState();
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(w.restarts - 1, 5));
      setTimeout(() => {
        if (!this.stopped) this.launch(w).catch((err: unknown) => log.write(`${prefix}[lapis] restart failed: ${(err as Error).message}\n`));
      }, delay).unref();
    });
    await this.#waitReady(w, child);
    this.#watch(w, child, prefix);
  }

  /** Liveness kills a process that stopped answering (its exit restarts it); readiness takes it out of routing meanwhile. */
  #watch(w: HostWorker, child: ChildProcess, prefix: string): void {
    watchWorker(w, this.d.spec.probes, {
      live: (t) => probe(w.port, '/live', t),
      ready: (t) => probe(w.port, '/ready', t),
      noun: 'process',
      end: () => child.kill('SIGKILL'),
      ending: 'killing the scoring process',
      log: (line) => void this.d.log.write(`${prefix}[lapis] ${line}\n`),
      changed: () => this.#refreshState(),
    });
  }

  async #waitReady(w: HostWorker, child: ChildProcess): Promise<void> {
    const what = this.workers.length > 1 ? `instance ${this.index} (worker ${w.index})` : `instance ${this.index}`;
    const deadline = Date.now() + STARTUP_LIMIT_MS;
    while (Date.now() < deadline && !this.stopped) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${what} exited before it was ready; its log ends:\n${await tail(join(this.d.spec.logDir, 'deployment.log'), 8192)}`);
      }
      const probe = await get(w.port, '/ready', 2000).catch(() => undefined);
      if (probe?.status === 200) {
        w.ready = true;
        this.#refreshState();
        return;
      }
      const error = probe ? (JSON.parse(probe.body || '{}') as { error?: string | null }).error : undefined;
      if (error) {
        // init() failed: keep the process (it serves /ready with the error) but never route to it.
        w.error = error;
        this.#refreshState();
        throw new Error(`the scoring script's init() failed:\n${error}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`${what} was not ready within ${STARTUP_LIMIT_MS / 1000} s`);
  }

  #refreshState(): void {
    if (this.stopped) return;
    if (this.workers.some((w) => w.ready)) this.state = 'ready';
    else if (this.error) this.state = 'failed';
    else if (this.workers.some((w) => w.unready)) this.state = 'unready';
    else this.state = this.restarts > 0 ? 'restarting' : 'starting';
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    await Promise.all(
      this.workers.map(async (w) => {
        w.unwatch?.();
        const child = w.child;
        if (!child || child.exitCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await new Promise((r) => child.once('exit', r));
        clearTimeout(timer);
      }),
    );
  }

  view(): InstanceView {
    const pids = this.workers.flatMap((w) => (w.child?.pid === undefined ? [] : [w.child.pid]));
    return { index: this.index, state: this.state, restarts: this.restarts, inflight: this.inflight, ...(this.error ? { error: this.error } : {}), workers: { ready: this.workers.filter((w) => w.ready).length, total: this.workers.length }, pids };
  }
}

export class ServingRuntime extends DeploymentSet<PythonInstance, Deployment> {
  /** Starts every instance; resolves once all are ready, rejects with the first failure (a traceback, or the log's end). */
  async start(spec: InstanceSpec): Promise<void> {
    await this.stop(spec.key);
    const d = await this.#prepare(spec);
    this.deployments.set(spec.key, d);
    try {
      await this.#launchAll(d);
    } catch (err) {
      await this.stop(spec.key);
      throw err;
    }
  }

  /**
   * A rolling replacement: the new instances start beside the old ones and must all be ready
   * before requests move to them; the old ones then finish what they hold and stop. If the new
   * ones fail, the old ones go on serving untouched.
   */
  async replace(spec: InstanceSpec): Promise<void> {
    const old = this.deployments.get(spec.key);
    if (!old) return this.start(spec);
    const d = await this.#prepare(spec, old.log);
    try {
      await this.#launchAll(d);
    } catch (err) {
      await this.stopDeployment(d);
      throw err;
    }
    this.deployments.set(spec.key, d);
    for (const i of old.instances) i.stopped = true; // a process of the old version that exits now stays down
    await this.drain(old);
  }

  async #prepare(spec: InstanceSpec, log?: WriteStream): Promise<Deployment> {
    await mkdir(spec.logDir, { recursive: true });
    const d: Deployment = { spec, instances: [], next: 0, log: log ?? createWriteStream(join(spec.logDir, 'deployment.log'), { flags: 'a' }) };
    d.instances = Array.from({ length: spec.instanceCount }, (_, i) => new PythonInstance(i, d));
    if (spec.workersPerInstance > 1) d.log.write(`[lapis] ${spec.instanceCount} instance(s) × ${spec.workersPerInstance} scoring processes\n`);
    return d;
  }

  #launchAll(d: Deployment): Promise<void[]> {
    return Promise.all(d.instances.flatMap((inst) => inst.workers.map((w) => inst.launch(w))));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One probe: undefined when it answered 200 in time, else what went wrong. */
function probe(port: number, path: string, timeoutMs: number): Promise<string | undefined> {
  return get(port, path, timeoutMs).then(
    (r) => (r.status === 200 ? undefined : `GET ${path} answered ${r.status}`),
    (err: Error) => (err.message === 'timeout' ? `GET ${path} had no answer within ${timeoutMs / 1000} s` : `GET ${path}: ${err.message}`),
  );
}

function get(port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end();
  });
}
