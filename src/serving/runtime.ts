/**
 * The Python runtime of online deployments: each instance is one long-lived scoring host
 * (python/lapis_score, see docs/scoring-host.md) on a loopback port. An instance is routed to once
 * its /ready answers 200; one that exits is restarted with backoff (its in-flight requests fail
 * with a clear 502); one whose init() failed stays down with its traceback instead of flapping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tail } from '../compute/tail.js';
import { request as httpRequest, Agent } from 'node:http';
import { pickInstance, type InstanceState, type InstanceView, type ScoreAnswer, type ScoringInstance } from './instance.js';
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
  maxConcurrent: number;
  logDir: string;
}

export interface Instance extends ScoringInstance {
  index: number;
  port: number;
  pid: number | undefined;
  state: InstanceState;
  inflight: number;
  restarts: number;
  error?: string;
  child?: ChildProcess;
}

interface Deployment {
  spec: InstanceSpec;
  instances: Instance[];
  next: number;
  log: WriteStream;
  stopped: boolean;
}

export class ServingRuntime {
  readonly #deployments = new Map<string, Deployment>();
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 256 });

  /** Starts every instance; resolves once all are ready, rejects with the first failure (a traceback, or the log's end). */
  async start(spec: InstanceSpec): Promise<void> {
    await this.stop(spec.key);
    const d = await this.#prepare(spec);
    this.#deployments.set(spec.key, d);
    try {
      await Promise.all(d.instances.map((inst) => this.#launch(d, inst)));
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
    const old = this.#deployments.get(spec.key);
    if (!old) return this.start(spec);
    const d = await this.#prepare(spec, old.log);
    try {
      await Promise.all(d.instances.map((inst) => this.#launch(d, inst)));
    } catch (err) {
      await this.#stopInstances(d);
      throw err;
    }
    this.#deployments.set(spec.key, d);
    old.stopped = true;
    for (let waited = 0; waited < 30_000 && old.instances.some((i) => i.inflight > 0); waited += 50) await new Promise((r) => setTimeout(r, 50));
    await this.#stopInstances(old);
  }

  async #prepare(spec: InstanceSpec, log?: WriteStream): Promise<Deployment> {
    await mkdir(spec.logDir, { recursive: true });
    const d: Deployment = { spec, instances: [], next: 0, log: log ?? createWriteStream(join(spec.logDir, 'deployment.log'), { flags: 'a' }), stopped: false };
    for (let i = 0; i < spec.instanceCount; i++) {
      const inst: Instance = { index: i, port: 0, pid: undefined, state: 'starting', inflight: 0, restarts: 0, score: (body, contentType, timeoutMs) => forward(inst.port, body, contentType, timeoutMs, this.#agent) };
      d.instances.push(inst);
    }
    return d;
  }

  async #launch(d: Deployment, inst: Instance): Promise<void> {
    inst.port = await freePort();
    inst.state = inst.restarts > 0 ? 'restarting' : 'starting';
    const { spec } = d;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...spec.env,
      LAPIS_SCORE_PORT: String(inst.port),
      LAPIS_SCORE_THREADS: String(spec.maxConcurrent),
      AZUREML_MODEL_DIR: spec.modelDir,
      LAPIS_DEPLOYMENT: spec.key,
      PYTHONUNBUFFERED: '1',
      ...(spec.codeDir ? { LAPIS_CODE_DIR: spec.codeDir } : {}),
      ...(spec.scoringScript ? { LAPIS_SCORING_SCRIPT: spec.scoringScript } : {}),
    };
    for (const k of Object.keys(env)) if (/^(LAPIS_(TOKEN|SERVER_KEY|ADMIN_PASSWORD)|AWS_|MLFLOW_TRACKING_TOKEN)/.test(k)) delete env[k];
    const child = spawn(spec.python, [HOST_SCRIPT], { cwd: spec.codeDir ?? spec.modelDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    inst.child = child;
    inst.pid = child.pid;
    const prefix = `[instance ${inst.index}] `;
    const write = (chunk: Buffer) => d.log.write(chunk.toString().replace(/^(?=.)/gm, prefix));
    child.stdout?.on('data', write);
    child.stderr?.on('data', write);
    child.once('exit', (code, signal) => {
      inst.pid = undefined;
      inst.child = undefined;
      if (d.stopped || inst.state === 'failed') return;
      d.log.write(`${prefix}[lapis] the scoring process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; restarting\n`);
      inst.state = 'restarting';
      inst.restarts += 1;
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(inst.restarts - 1, 5));
      setTimeout(() => {
        if (!d.stopped) this.#launch(d, inst).catch((err: unknown) => d.log.write(`${prefix}[lapis] restart failed: ${(err as Error).message}\n`));
      }, delay).unref();
    });
    await this.#waitReady(d, inst, child);
  }

  async #waitReady(d: Deployment, inst: Instance, child: ChildProcess): Promise<void> {
    const deadline = Date.now() + STARTUP_LIMIT_MS;
    while (Date.now() < deadline && !d.stopped) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`instance ${inst.index} exited before it was ready; its log ends:\n${await tail(join(d.spec.logDir, 'deployment.log'), 8192)}`);
      }
      const probe = await get(inst.port, '/ready', 2000).catch(() => undefined);
      if (probe?.status === 200) {
        inst.state = 'ready';
        inst.error = undefined;
        return;
      }
      const error = probe ? (JSON.parse(probe.body || '{}') as { error?: string | null }).error : undefined;
      if (error) {
        // init() failed: keep the process (it serves /ready with the error) but never route to it.
        inst.state = 'failed';
        inst.error = error;
        throw new Error(`the scoring script's init() failed:\n${error}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`instance ${inst.index} was not ready within ${STARTUP_LIMIT_MS / 1000} s`);
  }

  async stop(key: string): Promise<void> {
    const d = this.#deployments.get(key);
    if (!d) return;
    this.#deployments.delete(key);
    await this.#stopInstances(d);
    d.log.end();
  }

  async #stopInstances(d: Deployment): Promise<void> {
    d.stopped = true;
    await Promise.all(
      d.instances.map(async (inst) => {
        inst.state = 'stopped';
        const child = inst.child;
        if (!child || child.exitCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await new Promise((r) => child.once('exit', r));
        clearTimeout(timer);
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.#deployments.keys()].map((k) => this.stop(k)));
    this.#agent.destroy();
  }

  has(key: string): boolean {
    return this.#deployments.has(key);
  }

  instances(key: string): InstanceView[] {
    return (this.#deployments.get(key)?.instances ?? []).map((i) => ({ index: i.index, state: i.state, pid: i.pid, restarts: i.restarts, inflight: i.inflight, ...(i.error ? { error: i.error } : {}) }));
  }

  maxConcurrent(key: string): number {
    return this.#deployments.get(key)?.spec.maxConcurrent ?? 1;
  }

  /** A ready instance with a free request slot (round robin), or why there is none. */
  pick(key: string): Instance | 'none-ready' | 'busy' {
    const d = this.#deployments.get(key);
    if (!d) return 'none-ready';
    const inst = pickInstance(d.instances, d.next, d.spec.maxConcurrent);
    if (typeof inst !== 'string') d.next = (inst.index + 1) % d.instances.length;
    return inst;
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

/** One request to a scoring host's /score, on a kept-alive connection. */
function forward(port: number, body: Buffer | undefined, contentType: string, timeoutMs: number, agent: Agent): Promise<ScoreAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/score', method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body?.length ?? 0 } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 502, contentType: String(res.headers['content-type'] ?? 'application/json'), body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end(body);
  });
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
