/**
 * One worker thread of an ONNX deployment's instance: an ONNX Runtime session of the model, fed
 * request bodies by onnx-runtime.ts. The body is parsed here, not on the main thread, so that the
 * router's thread only routes.
 *
 *   → { id, body: Uint8Array }           ← { id, status, body: string }
 *   ← { ready: { input, dtype, features, output, outputType, ms } } once the session is loaded
 *
 * A model the runtime cannot serve throws at load: the thread ends and its error says why.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { answer, parseBody, PayloadError, type TensorInput } from './onnx-payloads.js';

export interface WorkerConfig {
  modelPath: string;
  /** The signature's columns (numeric), or null for a tensor signature or none. */
  columns: TensorInput['columns'];
  /** Test hook (LAPIS_TEST_ONNX_EXIT_ON): a body holding this text makes the thread exit before it answers. */
  exitOn?: string;
}

export interface WorkerRequest {
  id: number;
  body: Uint8Array;
}

export interface WorkerReply {
  id: number;
  status: number;
  body: string;
}

export interface WorkerReady {
  ready: { input: string; dtype: string; features: number; output: string; outputType: string; ms: number };
}

const DTYPES = new Set(['float64', 'float32']);

const config = workerData as WorkerConfig;
const port = parentPort;
if (!port) throw new Error('onnx-worker.ts runs as a worker thread');

const started = performance.now();
const ort = await import('onnxruntime-node');
// One thread per session: the instance's parallelism is its worker count.
const session = await ort.InferenceSession.create(config.modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] });
const inputs = session.inputMetadata;
const [meta] = inputs;
if (inputs.length !== 1 || !meta?.isTensor) throw new Error(`the ONNX model has ${inputs.length} inputs (${session.inputNames.join(', ')}); the ONNX runtime serves models with one input tensor [rows, features] (lapis model package makes them). Deploy it with a scoring script instead.`);
const shape = meta.shape;
const features = shape[1];
if (shape.length !== 2 || typeof features !== 'number' || features < 1 || !DTYPES.has(meta.type)) {
  throw new Error(`the ONNX model's input '${meta.name}' is ${meta.type} [${shape.join(', ')}]; the ONNX runtime serves one float64 or float32 input of shape [rows, features]. Deploy it with a scoring script instead.`);
}
if (config.columns && config.columns.length !== features) throw new Error(`the model's signature has ${config.columns.length} columns but its ONNX input takes ${features} features per row.`);
const input: TensorInput = { columns: config.columns, features };
const inputName = meta.name;
const dtype = meta.type as 'float64' | 'float32';
const output = session.outputNames[0] as string;
const outMeta = session.outputMetadata[0];
if (!outMeta?.isTensor) throw new Error(`the ONNX model's first output '${output}' is not a tensor (a ZipMap of probabilities?); the ONNX runtime answers with a tensor of predictions (lapis model package makes such models).`);

async function handle(req: WorkerRequest): Promise<WorkerReply> {
  if (config.exitOn !== undefined && Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength).includes(config.exitOn)) process.exit(70);
  let parsed;
  try {
    parsed = parseBody(req.body, input);
  } catch (err) {
    if (err instanceof PayloadError) return { id: req.id, status: 400, body: JSON.stringify({ error: err.message }) };
    throw err;
  }
  const data = dtype === 'float32' ? Float32Array.from(parsed.values) : parsed.values;
  const result = await session.run({ [inputName]: new ort.Tensor(dtype, data, [parsed.rows, input.features]) });
  const tensor = result[output] as InstanceType<typeof ort.Tensor>;
  return { id: req.id, status: 200, body: answer(predictions(tensor.data, tensor.dims, parsed.rows), parsed.wrap) };
}

/** One prediction per row: scalars for [rows] or [rows, 1], a list per row otherwise. */
function predictions(data: ArrayLike<unknown>, dims: readonly number[], rows: number): unknown[] {
  const flat = Array.from(data, (v) => (typeof v === 'bigint' ? Number(v) : v));
  const width = rows === 0 ? 0 : flat.length / rows;
  if (dims.length <= 1 || width === 1) return flat;
  return Array.from({ length: rows }, (_, i) => flat.slice(i * width, (i + 1) * width));
}

port.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (reply) => port.postMessage(reply),
    (err: unknown) => port.postMessage({ id: req.id, status: 500, body: JSON.stringify({ error: `ONNX Runtime failed: ${(err as Error).message}` }) } satisfies WorkerReply),
  );
});
port.postMessage({ ready: { input: meta.name, dtype: meta.type, features, output, outputType: outMeta.type, ms: Math.round(performance.now() - started) } } satisfies WorkerReady);
