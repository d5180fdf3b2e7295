/**
 * What the router needs of a deployment's instance, whichever runtime serves it: a pool of Python
 * scoring processes, each on its own loopback port (runtime.ts), or a pool of ONNX Runtime worker
 * threads in this process (onnx-runtime.ts). The router picks an instance with a free request slot
 * and hands it the body; the instance gives it to one of its workers.
 */
import { invalid } from '../core/errors.js';

/** `unready`: its processes are alive but fail their readiness probe, so it gets no requests. */
export type InstanceState = 'starting' | 'ready' | 'unready' | 'failed' | 'restarting' | 'stopped';

export interface ScoreAnswer {
  status: number;
  contentType: string;
  body: Buffer;
  /** ONNX runtime: 1 when the answer came with a model run (alone, or first of a batch), else 0; absent from Python hosts. */
  runs?: 0 | 1;
}

export interface ScoringInstance {
  readonly index: number;
  state: InstanceState;
  inflight: number;
  /** Rejects with Error('timeout') past `timeoutMs`, with another Error when the instance died while scoring. */
  score(body: Buffer | undefined, contentType: string, timeoutMs: number): Promise<ScoreAnswer>;
}

/** How an instance looks in `online-deployment show`. */
export interface InstanceView {
  index: number;
  state: InstanceState;
  restarts: number;
  inflight: number;
  error?: string;
  /** Workers ready / configured: scoring processes (Python) or worker threads (ONNX). */
  workers: { ready: number; total: number };
  /** The live scoring processes (Python); none for ONNX, whose workers are threads of the server. */
  pids: number[];
}

/** A ready instance with a free request slot, round robin from `start`, or why there is none. */
export function pickInstance<I extends ScoringInstance>(instances: readonly I[], start: number, maxConcurrent: number): I | 'none-ready' | 'busy' {
  let anyReady = false;
  for (let n = 0; n < instances.length; n++) {
    const inst = instances[(start + n) % instances.length] as I;
    if (inst.state !== 'ready') continue;
    anyReady = true;
    if (inst.inflight < maxConcurrent) return inst;
  }
  return anyReady ? 'busy' : 'none-ready';
}

/** Azure ML's inference server reads its worker count from this deployment variable; so does Lapis. */
const WORKER_COUNT = 'WORKER_COUNT';
const MAX_WORKERS = 64;

/**
 * Workers per instance, from `environment_variables.WORKER_COUNT` (default 1): scoring processes
 * for Python deployments, worker threads for ONNX ones.
 */
export function workerCount(env: Record<string, string> | undefined): number {
  const raw = env?.[WORKER_COUNT];
  if (raw === undefined) return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    throw invalid(`environment_variables.${WORKER_COUNT} must be a whole number from 1 to ${MAX_WORKERS} (scoring workers per instance: processes for Python, threads for ONNX); got ${JSON.stringify(raw)}.`);
  }
  return n;
}
