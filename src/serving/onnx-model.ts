/**
 * An ONNX deployment's model in an ONNX Runtime session, scoring request bodies: the body is read
 * against the signature (onnx-payloads.ts), run, and answered. It runs in the instance's worker
 * threads (onnx-worker.ts) and, for small requests to a model that answers in microseconds, on the
 * router's own thread (onnx-runtime.ts).
 *
 * A model the runtime cannot serve throws at load, with why.
 */
import { answer, parseBody, PayloadError, type TensorInput } from './onnx-payloads.js';

export interface ModelConfig {
  modelPath: string;
  /** The signature's columns (numeric), or null for a tensor signature or none. */
  columns: TensorInput['columns'];
}

/** What the session takes and gives, and what it costs: for the deployment's log and the choice of thread. */
export interface ModelInfo {
  input: string;
  dtype: string;
  features: number;
  output: string;
  outputType: string;
  /** Milliseconds to load the session. */
  ms: number;
  /** Microseconds of a single-row run: the fastest of a few on a row of zeros, after warm-up runs (the least disturbed by other work). */
  rowMicros: number;
}

export interface Scored {
  status: number;
  body: string;
}

export interface OnnxModel {
  info: ModelInfo;
  /** The answer to a request body: 200 with the predictions, or 400 with why the body does not fit the model. */
  score(body: Uint8Array): Promise<Scored>;
  close(): Promise<void>;
}

const DTYPES = new Set(['float64', 'float32']);
const PROBE_WARMUP = 5;
const PROBE_RUNS = 20;

export async function loadModel(config: ModelConfig): Promise<OnnxModel> {
  const started = performance.now();
  const ort = await import('onnxruntime-node');
  // session.run is synchronous on the calling thread; one ORT thread per session keeps it from
  // spawning a pool of its own: the instance's parallelism is its worker count.
  const session = await ort.InferenceSession.create(config.modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', executionProviders: ['cpu'] });
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
  const dtype = meta.type as 'float64' | 'float32';
  const output = session.outputNames[0] as string;
  const outMeta = session.outputMetadata[0];
  if (!outMeta?.isTensor) throw new Error(`the ONNX model's first output '${output}' is not a tensor (a ZipMap of probabilities?); the ONNX runtime answers with a tensor of predictions (lapis model package makes such models).`);

  const run = async (values: Float64Array, rows: number): Promise<unknown[]> => {
    const data = dtype === 'float32' ? Float32Array.from(values) : values;
    const result = await session.run({ [meta.name]: new ort.Tensor(dtype, data, [rows, features]) });
    const tensor = result[output] as InstanceType<typeof ort.Tensor>;
    return predictions(tensor.data, tensor.dims, rows);
  };
  const ms = Math.round(performance.now() - started);
  const probe = new Float64Array(features);
  let fastest = Infinity;
  for (let i = 0; i < PROBE_WARMUP + PROBE_RUNS; i++) {
    const t = performance.now();
    await run(probe, 1);
    if (i >= PROBE_WARMUP) fastest = Math.min(fastest, performance.now() - t);
  }
  const rowMicros = Math.round(fastest * 1000);

  return {
    info: { input: meta.name, dtype: meta.type, features, output, outputType: outMeta.type, ms, rowMicros },
    async score(body) {
      let parsed;
      try {
        parsed = parseBody(body, input);
      } catch (err) {
        if (err instanceof PayloadError) return { status: 400, body: JSON.stringify({ error: err.message }) };
        throw err;
      }
      return { status: 200, body: answer(await run(parsed.values, parsed.rows), parsed.wrap) };
    },
    close: () => session.release(),
  };
}

/** One prediction per row: scalars for [rows] or [rows, 1], a list per row otherwise. */
function predictions(data: ArrayLike<unknown>, dims: readonly number[], rows: number): unknown[] {
  const flat = Array.from(data, (v) => (typeof v === 'bigint' ? Number(v) : v));
  const width = rows === 0 ? 0 : flat.length / rows;
  if (dims.length <= 1 || width === 1) return flat;
  return Array.from({ length: rows }, (_, i) => flat.slice(i * width, (i + 1) * width));
}
