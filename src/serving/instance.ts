/**
 * What the router needs of a deployment's instance, whichever runtime serves it: a Python scoring
 * host behind a loopback port (runtime.ts) or a pool of ONNX Runtime worker threads in this process
 * (onnx-runtime.ts). The router picks an instance with a free request slot and hands it the body.
 */
export type InstanceState = 'starting' | 'ready' | 'failed' | 'restarting' | 'stopped';

export interface ScoreAnswer {
  status: number;
  contentType: string;
  body: Buffer;
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
  /** The scoring process (Python); ONNX instances live in the server's own process. */
  pid: number | undefined;
  restarts: number;
  inflight: number;
  error?: string;
  /** ONNX: worker threads ready / configured. */
  workers?: { ready: number; total: number };
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
