/**
 * The ONNX runtime of online deployments: no Python at all. Each instance is a pool of Node worker
 * threads (environment variable WORKER_COUNT of the deployment, as Azure ML's inference server
 * reads it; default 1), each holding an ONNX Runtime session of the model (onnx-worker.ts). An
 * instance takes requests once every worker has loaded the model. A worker that dies fails its
 * in-flight requests at once (the router answers 502) and is restarted with backoff; the instance
 * goes on with its other workers meanwhile. Each worker is probed by a ping that it answers between
 * runs (`liveness_probe`, `readiness_probe`): one stuck in a run stops answering, is taken out of
 * routing after the readiness probe's failures, and terminated (then restarted) after liveness's.
 *
 * A model that answers a row in microseconds (most tabular models) also gets a session on the
 * router's own thread, which scores the small requests: handing a request to a worker thread and
 * back costs more CPU than the prediction, and on a busy machine each hop waits for its thread to
 * be scheduled — those waits, not the model, made the latency tail. Large bodies still go to the
 * workers, so parsing them never holds up the router.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DeploymentSet, type RunningDeployment } from './deployments.js';
import type { InstanceState, InstanceView, ScoreAnswer, ScoringInstance } from './instance.js';
import { loadModel, type ModelInfo, type OnnxModel } from './onnx-model.js';
import type { WorkerConfig, WorkerFaults, WorkerPing, WorkerPong, WorkerReady, WorkerReply } from './onnx-worker.js';
import { watchWorker, type ProbedWorker, type Probes } from './probes.js';

const WORKER_SCRIPT = new URL('./onnx-worker.js', import.meta.url);
const MAX_BACKOFF_MS = 30_000;
const JSON_TYPE = 'application/json';
/** The router's thread scores a model itself when one row takes at most this long (a worker hop costs more), */
const INLINE_MAX_ROW_MICROS = 50;
/** its file is small enough to load there without holding up other requests for long, */
const INLINE_MAX_MODEL_BYTES = 4 << 20;
/** and only bodies this small (a few rows), so that no request holds the router's thread for long. */
const INLINE_MAX_BODY_BYTES = 2048;

export interface OnnxInstanceSpec {
  /** `<endpoint>/<deployment>`. */
  key: string;
  modelPath: string;
  columns: WorkerConfig['columns'];
  instanceCount: number;
  workersPerInstance: number;
  maxConcurrent: number;
  probes: Probes;
  logDir: string;
}

interface Pending {
  resolve: (a: ScoreAnswer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface WorkerSlot extends ProbedWorker {
  index: number;
  worker: Worker | undefined;
  pending: Map<number, Pending>;
  /** Probes waiting for their pong, by id. */
  pings: Map<number, () => void>;
}

class OnnxInstance implements ScoringInstance {
  state: InstanceState = 'starting';
  inflight = 0;
  restarts = 0;
  error: string | undefined;
  readonly workers: WorkerSlot[];
  #next = 0;
  #ids = 0;
  stopped = false;

  constructor(
    readonly index: number,
    readonly d: Deployment,
  ) {
    this.workers = Array.from({ length: d.spec.workersPerInstance }, (_, i) => ({ index: i, worker: undefined, ready: false, pending: new Map(), pings: new Map() }));
  }

  score(body: Buffer | undefined, _contentType: string, timeoutMs: number): Promise<ScoreAnswer> {
    const bytes = body ?? Buffer.alloc(0);
    const inline = this.d.inline;
    if (inline && bytes.length <= INLINE_MAX_BODY_BYTES && !triggersFault(bytes, this.d.faults)) {
      return inline.score(bytes).then((scored) => ({ status: scored.status, contentType: JSON_TYPE, body: Buffer.from(scored.body), runs: scored.runs }));
    }
    return this.#toWorker(bytes, timeoutMs);
  }

  #toWorker(body: Buffer, timeoutMs: number): Promise<ScoreAnswer> {
    const slot = this.#pickWorker();
    if (!slot?.worker) return Promise.reject(new Error('no worker thread of this instance is ready'));
    const id = ++this.#ids;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.pending.delete(id);
        reject(new Error('timeout'));
      }, timeoutMs);
      slot.pending.set(id, { resolve, reject, timer });
      // A copy of exactly the body, moved to the worker: cloning the Buffer itself would copy the
      // whole (pooled, 8 KiB) memory behind it.
      const bytes = Uint8Array.from(body);
      slot.worker?.postMessage({ id, body: bytes }, [bytes.buffer]);
    });
  }

  /** The ready worker with the fewest requests in flight, round robin among equals. */
  #pickWorker(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (let n = 0; n < this.workers.length; n++) {
      const w = this.workers[(this.#next + n) % this.workers.length] as WorkerSlot;
      if (w.ready && (!best || w.pending.size < best.pending.size)) best = w;
    }
    if (best) this.#next = (best.index + 1) % this.workers.length;
    return best;
  }

  /** Starts one worker; resolves with what its session reported once loaded, rejects with why it could not. */
  launch(slot: WorkerSlot): Promise<ModelInfo> {
    const log = (line: string): void => void this.d.log.write(`[instance ${this.index}] [worker ${slot.index}] ${line}\n`);
    const config: WorkerConfig = { modelPath: this.d.spec.modelPath, columns: this.d.spec.columns, ...this.d.faults };
    const worker = new Worker(WORKER_SCRIPT, { workerData: config });
    slot.worker = worker;
    slot.ready = false;
    return new Promise((resolve, reject) => {
      let loadError: Error | undefined;
      worker.on('message', (msg: WorkerReply | WorkerReady | WorkerPong) => {
        if ('pong' in msg) {
          slot.pings.get(msg.pong)?.();
          return;
        }
        if ('ready' in msg) {
          const r = msg.ready;
          slot.ready = true;
          this.#refreshState();
          log(`ONNX Runtime session ready in ${r.ms} ms: ${r.inputs} → output '${r.output}' ${r.outputType}; one row in ${r.rowMicros === null ? '(not timed)' : `${r.rowMicros} µs`}`);
          this.#watch(slot, worker, log);
          resolve(r);
          return;
        }
        const p = slot.pending.get(msg.id);
        if (!p) return; // timed out already
        slot.pending.delete(msg.id);
        clearTimeout(p.timer);
        p.resolve({ status: msg.status, contentType: JSON_TYPE, body: Buffer.from(msg.body), runs: msg.runs });
      });
      worker.on('error', (err) => {
        loadError = err;
        log(`[lapis] ${slot.ready ? 'the worker thread failed' : 'the model could not be loaded'}: ${err.message}`);
      });
      worker.on('exit', (code) => {
        const wasReady = slot.ready || slot.unready === true;
        slot.unwatch?.();
        slot.pings.clear();
        slot.worker = undefined;
        slot.ready = false;
        slot.unready = false;
        for (const [, p] of slot.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`worker thread ${slot.index} of instance ${this.index} exited with code ${code} while scoring`));
        }
        slot.pending.clear();
        this.#refreshState();
        if (!wasReady) {
          reject(new Error(`instance ${this.index}: ${loadError?.message ?? `worker thread ${slot.index} exited with code ${code} before its model was loaded`}`));
          if (this.restarts === 0 || this.stopped) return; // a failure at start fails the deployment instead
        }
        if (this.stopped) return;
        this.restarts += 1;
        const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(this.restarts - 1, 9));
        log(`[lapis] the worker thread exited with code ${code}${wasReady ? '' : ' while loading'}; restarting in ${delay} ms`);
        setTimeout(() => {
          if (!this.stopped) this.launch(slot).catch(() => undefined); // a failed restart logs and retries on its own exit
        }, delay).unref();
      });
    });
  }

  /** Liveness terminates a worker that stopped answering pings (its exit restarts it); readiness takes it out of routing meanwhile. */
  #watch(slot: WorkerSlot, worker: Worker, log: (line: string) => void): void {
    const ping = (timeoutMs: number) => this.#ping(slot, worker, timeoutMs);
    watchWorker(slot, this.d.spec.probes, {
      live: ping,
      ready: ping,
      noun: 'worker thread',
      end: () => void worker.terminate(),
      ending: 'terminating the worker thread',
      log: (line) => log(`[lapis] ${line}`),
      changed: () => this.#refreshState(),
    });
  }

  /** A ping the worker answers between runs: undefined when it did within `timeoutMs`, else why not. */
  #ping(slot: WorkerSlot, worker: Worker, timeoutMs: number): Promise<string | undefined> {
    const id = ++this.#ids;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        slot.pings.delete(id);
        resolve(`no answer to a ping within ${timeoutMs / 1000} s`);
      }, timeoutMs).unref();
      slot.pings.set(id, () => {
        slot.pings.delete(id);
        clearTimeout(timer);
        resolve(undefined);
      });
      worker.postMessage({ ping: id } satisfies WorkerPing);
    });
  }

  #refreshState(): void {
    if (this.stopped) return;
    if (this.workers.some((w) => w.ready)) this.state = 'ready';
    else if (this.workers.some((w) => w.unready)) this.state = 'unready';
    else this.state = this.restarts > 0 ? 'restarting' : 'starting';
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    for (const w of this.workers) w.unwatch?.();
    await Promise.all(this.workers.map((w) => w.worker?.terminate()));
  }

  view(): InstanceView {
    return { index: this.index, state: this.state, restarts: this.restarts, inflight: this.inflight, ...(this.error ? { error: this.error } : {}), workers: { ready: this.workers.filter((w) => w.ready).length, total: this.workers.length }, pids: [] };
  }
}

interface Deployment extends RunningDeployment<OnnxInstance> {
  spec: OnnxInstanceSpec;
  /** The session on the router's thread, for a model fast enough to score small requests inline. */
  inline: OnnxModel | undefined;
  /** Test hooks: a body that triggers one goes to a worker thread, never to the router's. */
  faults: WorkerFaults;
}

export class OnnxRuntime extends DeploymentSet<OnnxInstance, Deployment> {
  /** Starts every instance; resolves once every worker has loaded the model, rejects with the first failure. */
  async start(spec: OnnxInstanceSpec): Promise<void> {
    await this.stop(spec.key);
    const d = await this.#launch(spec);
    this.deployments.set(spec.key, d);
  }

  /** A rolling replacement: the new instances load beside the old ones, which finish what they hold, then stop. */
  async replace(spec: OnnxInstanceSpec): Promise<void> {
    const old = this.deployments.get(spec.key);
    if (!old) return this.start(spec);
    const d = await this.#launch(spec, old.log);
    this.deployments.set(spec.key, d);
    await this.drain(old);
  }

  async #launch(spec: OnnxInstanceSpec, log?: WriteStream): Promise<Deployment> {
    await mkdir(spec.logDir, { recursive: true });
    const d: Deployment = { spec, instances: [], next: 0, log: log ?? createWriteStream(join(spec.logDir, 'deployment.log'), { flags: 'a' }), inline: undefined, faults: testFaults() };
    d.instances = Array.from({ length: spec.instanceCount }, (_, i) => new OnnxInstance(i, d));
    d.log.write(`[lapis] ONNX runtime: ${spec.instanceCount} instance(s) × ${spec.workersPerInstance} worker thread(s), model ${spec.modelPath}\n`);
    try {
      const [info] = await Promise.all(d.instances.flatMap((inst) => inst.workers.map((w) => inst.launch(w))));
      d.inline = await inlineModel(spec, info as ModelInfo, d.log);
    } catch (err) {
      await this.stopDeployment(d);
      if (!log) d.log.end();
      throw err;
    }
    return d;
  }

  protected override async stopDeployment(d: Deployment): Promise<void> {
    await super.stopDeployment(d);
    await d.inline?.close();
  }
}

/** The model loaded on the router's thread when the workers found it fast and it is small; undefined otherwise. */
async function inlineModel(spec: OnnxInstanceSpec, info: ModelInfo, log: WriteStream): Promise<OnnxModel | undefined> {
  if (info.rowMicros === null || info.rowMicros > INLINE_MAX_ROW_MICROS || (await stat(spec.modelPath)).size > INLINE_MAX_MODEL_BYTES) return undefined;
  const model = await loadModel({ modelPath: spec.modelPath, columns: spec.columns });
  log.write(`[lapis] one row takes ${info.rowMicros} µs: requests of up to ${INLINE_MAX_BODY_BYTES} bytes are scored on the router's thread (a session loaded in ${model.info.ms} ms), larger ones on the worker threads\n`);
  return model;
}

function testFaults(): WorkerFaults {
  const { LAPIS_TEST_ONNX_EXIT_ON: exitOn, LAPIS_TEST_ONNX_HANG_ON: hangOn } = process.env;
  return { ...(exitOn ? { exitOn } : {}), ...(hangOn ? { hangOn } : {}) };
}

function triggersFault(body: Buffer, faults: WorkerFaults): boolean {
  return (faults.exitOn !== undefined && body.includes(faults.exitOn)) || (faults.hangOn !== undefined && body.includes(faults.hangOn));
}
