/**
 * One worker thread of an ONNX deployment's instance: an ONNX Runtime session of the model, fed
 * request bodies by onnx-runtime.ts. The body is parsed here, not on the main thread, so that the
 * router's thread only routes.
 *
 *   → { id, body: Uint8Array }           ← { id, status, body: string }
 *   ← { ready: { inputs, output, outputType, ms } } once the session is loaded
 *
 * A model the runtime cannot serve throws at load: the thread ends and its error says why.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { answer, parseBody, PayloadError, type ParsedBody, type TensorInput } from './onnx-payloads.js';

export interface WorkerConfig {
  modelPath: string;
  /** The signature's columns, or null for a tensor signature or none. */
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
  ready: { inputs: string; output: string; outputType: string; ms: number };
}

type OrtTensor = InstanceType<typeof ort.Tensor>;
/** How a parsed body becomes the session's inputs. */
type Feed = (body: ParsedBody) => Record<string, OrtTensor>;

const TENSOR_DTYPES = new Set(['float64', 'float32']);
const COLUMN_DTYPES = new Set(['string', 'float64', 'float32', 'int64', 'int32']);

const config = workerData as WorkerConfig;
const port = parentPort;
if (!port) throw new Error('onnx-worker.ts runs as a worker thread');

const started = performance.now();
const ort = await import('onnxruntime-node');
// One thread per session: the instance's parallelism is its worker count.
const session = await ort.InferenceSession.create(config.modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] });
const inputs = session.inputMetadata;
const columns = config.columns;
const features = columns ? columns.length : tensorFeatures();
const input: TensorInput = { columns, features };
// With text columns (or one input per column), each column feeds the input of its name.
const { feed, described } = columns && (columns.some((c) => c.type === 'string') || inputs.length > 1) ? columnsLayout(columns) : tensorLayout();
const output = session.outputNames[0] as string;
const outMeta = session.outputMetadata[0];
if (!outMeta?.isTensor) throw new Error(`the ONNX model's first output '${output}' is not a tensor (a ZipMap of probabilities?); the ONNX runtime answers with a tensor of predictions (lapis model package makes such models).`);

function tensorFeatures(): number {
  const shape = inputs[0]?.isTensor ? inputs[0].shape : [];
  return typeof shape[1] === 'number' ? shape[1] : 0;
}

/** One input [rows, features] of float64 or float32. */
function tensorLayout(): { feed: Feed; described: string } {
  const [meta] = inputs;
  if (inputs.length !== 1 || !meta?.isTensor) throw new Error(`the ONNX model has ${inputs.length} inputs (${session.inputNames.join(', ')}); without a column signature the ONNX runtime serves models with one input tensor [rows, features] (lapis model package makes them). Deploy it with a scoring script instead.`);
  const shape = meta.shape;
  const width = shape[1];
  if (shape.length !== 2 || typeof width !== 'number' || width < 1 || !TENSOR_DTYPES.has(meta.type)) {
    throw new Error(`the ONNX model's input '${meta.name}' is ${meta.type} [${shape.join(', ')}]; the ONNX runtime serves one float64 or float32 input of shape [rows, features]. Deploy it with a scoring script instead.`);
  }
  if (width !== features) throw new Error(`the model's signature has ${features} columns but its ONNX input takes ${width} features per row.`);
  const dtype = meta.type as 'float64' | 'float32';
  return {
    feed: (p) => ({ [meta.name]: new ort.Tensor(dtype, dtype === 'float32' ? Float32Array.from(p.values) : p.values, [p.rows, features]) }),
    described: `input '${meta.name}' ${dtype} [rows, ${features}]`,
  };
}

/** One input per signature column, named as the column: [rows] or [rows, 1] of string, float or int. */
function columnsLayout(cols: NonNullable<TensorInput['columns']>): { feed: Feed; described: string } {
  const byName = new Map(inputs.map((m) => [m.name, m]));
  const plan = cols.map((c, j) => {
    const meta = byName.get(c.name);
    if (!meta?.isTensor) throw new Error(`the signature's column '${c.name}' has no tensor input of that name in the ONNX model (its inputs: ${session.inputNames.join(', ')}).`);
    const fits = c.type === 'string' ? meta.type === 'string' : COLUMN_DTYPES.has(meta.type) && meta.type !== 'string' && (!meta.type.startsWith('int') || ['long', 'integer', 'boolean'].includes(c.type));
    if (!fits || meta.shape.length > 2) throw new Error(`the signature's column '${c.name}' is ${c.type} but the ONNX model's input of that name is ${meta.type} [${meta.shape.join(', ')}]. Deploy it with a scoring script instead.`);
    return { j, name: c.name, dtype: meta.type, shape: meta.shape.length };
  });
  if (inputs.length !== cols.length) throw new Error(`the ONNX model has inputs the signature does not name (${session.inputNames.filter((n) => !cols.some((c) => c.name === n)).join(', ')}).`);
  return {
    feed: (p) => Object.fromEntries(plan.map((c) => [c.name, new ort.Tensor(c.dtype as 'float64', columnData(p, c.j, c.dtype) as Float64Array, c.shape === 2 ? [p.rows, 1] : [p.rows])])),
    described: `one input per column (${plan.map((c) => `${c.name} ${c.dtype}`).join(', ')})`,
  };
}

function columnData(p: ParsedBody, j: number, dtype: string): string[] | Float64Array | Float32Array | Int32Array | BigInt64Array {
  if (dtype === 'string') return p.text?.get(j) ?? [];
  const out = dtype === 'float32' ? new Float32Array(p.rows) : dtype === 'int32' ? new Int32Array(p.rows) : dtype === 'int64' ? new BigInt64Array(p.rows) : new Float64Array(p.rows);
  for (let i = 0; i < p.rows; i++) {
    const v = p.values[i * features + j] as number;
    if (out instanceof BigInt64Array) out[i] = BigInt(v);
    else out[i] = v;
  }
  return out;
}

async function handle(req: WorkerRequest): Promise<WorkerReply> {
  if (config.exitOn !== undefined && Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength).includes(config.exitOn)) process.exit(70);
  let parsed;
  try {
    parsed = parseBody(req.body, input);
  } catch (err) {
    if (err instanceof PayloadError) return { id: req.id, status: 400, body: JSON.stringify({ error: err.message }) };
    throw err;
  }
  const result = await session.run(feed(parsed));
  const tensor = result[output] as OrtTensor;
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
port.postMessage({ ready: { inputs: described, output, outputType: outMeta.type, ms: Math.round(performance.now() - started) } } satisfies WorkerReady);
