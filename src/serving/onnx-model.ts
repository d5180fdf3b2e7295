/**
 * An ONNX deployment's model in an ONNX Runtime session, scoring request bodies: the body is read
 * against the signature (onnx-payloads.ts), run, and answered. It runs in the instance's worker
 * threads (onnx-worker.ts) and, for small requests to a model that answers in microseconds, on the
 * router's own thread (onnx-runtime.ts).
 *
 * Two input layouts, as `lapis model package` makes them: one tensor [rows, features] of float64
 * or float32 (numeric columns, or a tensor signature), or — with text columns — one input per
 * signature column, named as it, [rows] or [rows, 1] of string, float or int.
 *
 * A model the runtime cannot serve throws at load, with why.
 */
import type * as OrtModule from 'onnxruntime-node';
import type { Tensor } from 'onnxruntime-node';
import { RunBatcher } from './onnx-batch.js';
import { answer, parseBody, PayloadError, type ParsedBody, type TensorInput } from './onnx-payloads.js';

export interface ModelConfig {
  modelPath: string;
  /** The signature's columns, or null for a tensor signature or none. */
  columns: TensorInput['columns'];
}

/** What the session takes and gives, and what it costs: for the deployment's log and the choice of thread. */
export interface ModelInfo {
  /** The inputs, described for the log. */
  inputs: string;
  output: string;
  outputType: string;
  /** Milliseconds to load the session. */
  ms: number;
  /**
   * Microseconds of a single-row run: the fastest of a few on a row of zeros (and empty text),
   * after warm-up runs (the least disturbed by other work); null when such a row cannot be scored
   * (a text category the model refuses), which keeps scoring on the worker threads.
   */
  rowMicros: number | null;
}

export interface Scored {
  status: number;
  body: string;
  /** 1 when this request ran the model (alone, or first of a batch: onnx-batch.ts); 0 when it shared a run or ran none. */
  runs: 0 | 1;
}

export interface OnnxModel {
  info: ModelInfo;
  /** The answer to a request body: 200 with the predictions, or 400 with why the body does not fit the model. */
  score(body: Uint8Array): Promise<Scored>;
  close(): Promise<void>;
}

/** How a parsed body becomes the session's inputs. */
type Feed = (body: ParsedBody) => Record<string, Tensor>;
type Ort = typeof OrtModule;
type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;

const TENSOR_DTYPES = new Set(['float64', 'float32']);
const COLUMN_DTYPES = new Set(['string', 'float64', 'float32', 'int64', 'int32']);
const PROBE_WARMUP = 5;
const PROBE_RUNS = 20;
/** Requests waiting for a session are run together up to this many rows (onnx-batch.ts). */
const MAX_BATCH_ROWS = 1024;

export async function loadModel(config: ModelConfig): Promise<OnnxModel> {
  const started = performance.now();
  const ort = await import('onnxruntime-node');
  // session.run is synchronous on the calling thread; one ORT thread per session keeps it from
  // spawning a pool of its own: the instance's parallelism is its worker count.
  const session = await ort.InferenceSession.create(config.modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', executionProviders: ['cpu'] });
  const { columns } = config;
  const features = columns ? columns.length : tensorFeatures(session);
  const input: TensorInput = { columns, features };
  // With text columns (or one input per column), each column feeds the input of its name.
  const { feed, described } = columns && (columns.some((c) => c.type === 'string') || session.inputNames.length > 1) ? columnsLayout(ort, session, columns, features) : tensorLayout(ort, session, features);
  const output = session.outputNames[0] as string;
  const outMeta = session.outputMetadata[0];
  if (!outMeta?.isTensor) throw new Error(`the ONNX model's first output '${output}' is not a tensor (a ZipMap of probabilities?); the ONNX runtime answers with a tensor of predictions (lapis model package makes such models).`);

  const run = async (parsed: ParsedBody): Promise<unknown[]> => {
    // Only the predictions are fetched: the other outputs (probabilities) would be copied and wrapped for nothing.
    const result = await session.run(feed(parsed), [output]);
    const tensor = result[output] as Tensor;
    return predictions(tensor.data, tensor.dims, parsed.rows);
  };
  const ms = Math.round(performance.now() - started);
  // A model whose inputs take a fixed number of rows cannot take several requests' rows at once.
  const batches = session.inputMetadata.every((m) => m.isTensor && !(typeof m.shape[0] === 'number' && m.shape[0] > 0)) ? new RunBatcher(run, MAX_BATCH_ROWS) : undefined;

  return {
    info: { inputs: described, output, outputType: outMeta.type, ms, rowMicros: await rowMicros(run, input) },
    async score(body) {
      let parsed;
      try {
        parsed = parseBody(body, input);
      } catch (err) {
        if (err instanceof PayloadError) return { status: 400, body: JSON.stringify({ error: err.message }), runs: 0 };
        throw err;
      }
      const scored = batches ? await batches.score(parsed) : { predictions: await run(parsed), runs: 1 as const };
      return { status: 200, body: answer(scored.predictions, parsed.wrap), runs: scored.runs };
    },
    close: () => session.release(),
  };
}

async function rowMicros(run: (p: ParsedBody) => Promise<unknown[]>, input: TensorInput): Promise<number | null> {
  const text = input.columns?.flatMap((c, j) => (c.type === 'string' ? [[j, ['']] as [number, string[]]] : [])) ?? [];
  const row: ParsedBody = { rows: 1, values: new Float64Array(input.features), text: text.length ? new Map(text) : null, wrap: false };
  let fastest = Infinity;
  try {
    for (let i = 0; i < PROBE_WARMUP + PROBE_RUNS; i++) {
      const t = performance.now();
      await run(row);
      if (i >= PROBE_WARMUP) fastest = Math.min(fastest, performance.now() - t);
    }
  } catch {
    return null;
  }
  return Math.round(fastest * 1000);
}

function tensorFeatures(session: Session): number {
  const [meta] = session.inputMetadata;
  const shape = meta?.isTensor ? meta.shape : [];
  return typeof shape[1] === 'number' ? shape[1] : 0;
}

/** One input [rows, features] of float64 or float32. */
function tensorLayout(ort: Ort, session: Session, features: number): { feed: Feed; described: string } {
  const inputs = session.inputMetadata;
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
function columnsLayout(ort: Ort, session: Session, cols: NonNullable<TensorInput['columns']>, features: number): { feed: Feed; described: string } {
  const byName = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const plan = cols.map((c, j) => {
    const meta = byName.get(c.name);
    if (!meta?.isTensor) throw new Error(`the signature's column '${c.name}' has no tensor input of that name in the ONNX model (its inputs: ${session.inputNames.join(', ')}).`);
    const fits = c.type === 'string' ? meta.type === 'string' : COLUMN_DTYPES.has(meta.type) && meta.type !== 'string' && (!meta.type.startsWith('int') || ['long', 'integer', 'boolean'].includes(c.type));
    if (!fits || meta.shape.length > 2) throw new Error(`the signature's column '${c.name}' is ${c.type} but the ONNX model's input of that name is ${meta.type} [${meta.shape.join(', ')}]. Deploy it with a scoring script instead.`);
    return { j, name: c.name, dtype: meta.type, rank: meta.shape.length };
  });
  if (session.inputNames.length !== cols.length) throw new Error(`the ONNX model has inputs the signature does not name (${session.inputNames.filter((n) => !cols.some((c) => c.name === n)).join(', ')}).`);
  return {
    // The Tensor constructor's overloads pair each type name with its array type; columnData does too.
    feed: (p) => Object.fromEntries(plan.map((c) => [c.name, new ort.Tensor(c.dtype as 'float64', columnData(p, c.j, c.dtype, features) as Float64Array, c.rank === 2 ? [p.rows, 1] : [p.rows])])),
    described: `one input per column (${plan.map((c) => `${c.name} ${c.dtype}`).join(', ')})`,
  };
}

function columnData(p: ParsedBody, j: number, dtype: string, features: number): string[] | Float64Array | Float32Array | Int32Array | BigInt64Array {
  if (dtype === 'string') return p.text?.get(j) ?? [];
  const out = dtype === 'float32' ? new Float32Array(p.rows) : dtype === 'int32' ? new Int32Array(p.rows) : dtype === 'int64' ? new BigInt64Array(p.rows) : new Float64Array(p.rows);
  for (let i = 0; i < p.rows; i++) {
    const v = p.values[i * features + j] as number;
    if (out instanceof BigInt64Array) out[i] = BigInt(v);
    else out[i] = v;
  }
  return out;
}

/** One prediction per row: scalars for [rows] or [rows, 1], a list per row otherwise. */
function predictions(data: ArrayLike<unknown>, dims: readonly number[], rows: number): unknown[] {
  const flat = Array.from(data, (v) => (typeof v === 'bigint' ? Number(v) : v));
  const width = rows === 0 ? 0 : flat.length / rows;
  if (dims.length <= 1 || width === 1) return flat;
  return Array.from({ length: rows }, (_, i) => flat.slice(i * width, (i + 1) * width));
}
