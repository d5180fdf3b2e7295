/**
 * One worker thread of an ONNX deployment's instance: the model in its own ONNX Runtime session
 * (onnx-model.ts), fed request bodies by onnx-runtime.ts: the large ones always, so that parsing
 * them never holds up the router's thread, and all of them for a model too slow to score there.
 *
 *   → { id, body: Uint8Array }           ← { id, status, body: string }
 *   → { ping }                           ← { pong }   (liveness and readiness probes)
 *   ← { ready: ModelInfo } once the session is loaded
 *
 * A model the runtime cannot serve throws at load: the thread ends and its error says why.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadModel, type ModelConfig, type ModelInfo } from './onnx-model.js';

export interface WorkerConfig extends ModelConfig, WorkerFaults {}

/** Test hooks, set from the server's environment: bodies that make a worker thread fail. */
export interface WorkerFaults {
  /** LAPIS_TEST_ONNX_EXIT_ON: a body holding this text makes the thread exit before it answers. */
  exitOn?: string;
  /** LAPIS_TEST_ONNX_HANG_ON: a body holding this text blocks the thread for a minute (a stuck run). */
  hangOn?: string;
}

export interface WorkerRequest {
  id: number;
  body: Uint8Array;
}

export interface WorkerPing {
  ping: number;
}

export interface WorkerPong {
  pong: number;
}

export interface WorkerReply {
  id: number;
  status: number;
  body: string;
  runs: 0 | 1;
}

export interface WorkerReady {
  ready: ModelInfo;
}

const config = workerData as WorkerConfig;
const port = parentPort;
if (!port) throw new Error('onnx-worker.ts runs as a worker thread');

const model = await loadModel(config);

port.on('message', (req: WorkerRequest | WorkerPing) => {
  if ('ping' in req) {
    port.postMessage({ pong: req.ping } satisfies WorkerPong);
    return;
  }
  const text = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
  if (config.exitOn !== undefined && text.includes(config.exitOn)) process.exit(70);
  if (config.hangOn !== undefined && text.includes(config.hangOn)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  model.score(req.body).then(
    (scored) => port.postMessage({ id: req.id, status: scored.status, body: scored.body, runs: scored.runs } satisfies WorkerReply),
    (err: unknown) => port.postMessage({ id: req.id, status: 500, body: JSON.stringify({ error: `ONNX Runtime failed: ${(err as Error).message}` }), runs: 0 } satisfies WorkerReply),
  );
});
port.postMessage({ ready: model.info } satisfies WorkerReady);
