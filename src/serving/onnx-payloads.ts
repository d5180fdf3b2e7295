/**
 * Request bodies of an ONNX deployment turned into the model's input tensor, and predictions into
 * answers — the same bodies, answers and signature checks as a no-code MLflow deployment on the
 * Python scoring host (python/lapis_score/payloads.py and MLflow's own parser):
 *
 *  - Azure ML: `{"input_data": {"columns", "index", "data"}}` (split), `{"input_data": [[...]]}`
 *    (rows), `{"input_data": {"<column>": [...]}}` (named tensors); answered with the predictions.
 *  - MLflow's scoring server: `dataframe_split`, `dataframe_records`, `instances`, `inputs`;
 *    answered with `{"predictions": [...]}`. `params` is accepted beside either (an ONNX model takes none).
 *
 * Pure functions: the worker threads run them, and the unit tests.
 */
import type { OnnxColumnType } from '../registry/mlmodel.js';

/** What an ONNX deployment's model takes: rows of `features` values, in the signature's columns when it has some. */
export interface TensorInput {
  /** The signature's columns in order (each row is read by name), or null for a tensor signature (rows of `features` values). */
  columns: { name: string; type: OnnxColumnType }[] | null;
  features: number;
}

export interface ParsedBody {
  rows: number;
  /** Row-major, rows × features; a text column's cells are left 0 here: its values are in `text`. */
  values: Float64Array;
  /** The text columns' values, by column position; null when the model has no text column. */
  text: Map<number, string[]> | null;
  /** MLflow's shapes are answered `{"predictions": …}`, Azure ML's with the predictions alone. */
  wrap: boolean;
}

type Parsed = Omit<ParsedBody, 'wrap'>;

/** The cells of a body being read, each checked against its column's type as it is put. */
class Cells {
  readonly values: Float64Array;
  readonly text: Map<number, string[]> | null;

  constructor(
    readonly rows: number,
    readonly input: TensorInput,
  ) {
    this.values = new Float64Array(rows * input.features);
    const textColumns = input.columns?.flatMap((c, j) => (c.type === 'string' ? [j] : [])) ?? [];
    this.text = textColumns.length > 0 ? new Map(textColumns.map((j) => [j, new Array<string>(rows)])) : null;
  }

  put(row: number, column: number, v: unknown): void {
    const text = this.text?.get(column);
    if (text) text[row] = string(v, this.input, column, row);
    else this.values[row * this.input.features + column] = number(v, this.input, column, row);
  }

  parsed(): Parsed {
    return { rows: this.rows, values: this.values, text: this.text };
  }
}

/** A body the model cannot take: a 400 with this message. */
export class PayloadError extends Error {}

export const SHAPES =
  'Send a JSON object: Azure ML\'s {"input_data": ...} holding a DataFrame {"columns": [...], "index": [...], "data": [[...]]}, a tensor [[...]] or named tensors {"<name>": [[...]]}; ' +
  'or MLflow\'s, with exactly one of "dataframe_split", "dataframe_records", "instances" or "inputs". Either may add "params": {...}.';
const MLFLOW_FORMATS = ['dataframe_split', 'dataframe_records', 'instances', 'inputs'] as const;
const SPLIT_KEYS = new Set(['columns', 'index', 'data']);

export function parseBody(raw: Uint8Array | string, input: TensorInput): ParsedBody {
  let body: unknown;
  try {
    body = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch (err) {
    throw new PayloadError(`The body is not JSON (${(err as Error).message}). ${SHAPES}`);
  }
  if (!isObject(body)) throw new PayloadError(`The body is ${describe(body)}, not a JSON object. ${SHAPES}`);
  if ('input_data' in body) {
    const extra = Object.keys(body).filter((k) => k !== 'input_data' && k !== 'params');
    if (extra.length > 0) throw new PayloadError(`The body has ${extra.map((k) => JSON.stringify(k)).join(', ')} next to "input_data", which only "params" may accompany. ${SHAPES}`);
    const data = body.input_data;
    if (Array.isArray(data)) return wrapped(fromRows(data, input, '"input_data"'), false);
    if (isObject(data) && 'columns' in data && Object.keys(data).every((k) => SPLIT_KEYS.has(k))) return wrapped(fromSplit(data, input, '"input_data"'), false);
    if (isObject(data) && Object.keys(data).length > 0) return wrapped(fromNamed(data, input, '"input_data"'), false);
    throw new PayloadError(`"input_data" is ${describe(data)}. ${SHAPES}`);
  }
  const found = MLFLOW_FORMATS.filter((k) => k in body);
  if (found.length > 1) throw new PayloadError(`The body has ${found.map((k) => JSON.stringify(k)).join(' and ')}: send only one of them. ${SHAPES}`);
  const format = found[0];
  if (!format) throw new PayloadError(`The body has ${Object.keys(body).map((k) => JSON.stringify(k)).join(', ') || 'no fields'}, none of which this deployment reads. ${SHAPES}`);
  const data = body[format];
  const where = `"${format}"`;
  if (format === 'dataframe_split') {
    if (!isObject(data)) throw new PayloadError(`${where} is ${describe(data)}; it must be {"columns": [...], "data": [[...]]}.`);
    return wrapped(fromSplit(data, input, where), true);
  }
  if (format === 'dataframe_records') {
    if (!Array.isArray(data)) throw new PayloadError(`${where} is ${describe(data)}; it must be a list of records [{"<column>": value, ...}].`);
    return wrapped(fromRecords(data, input, where), true);
  }
  if (Array.isArray(data)) {
    if (data.length > 0 && data.every(isObject)) return wrapped(fromRecords(data, input, where), true);
    // As MLflow: unnamed rows meet a column signature only through Azure ML's input_data.
    if (input.columns) throw new PayloadError(`${where} holds rows without column names, but the model's signature names its columns (${names(input)}): send records [{"<column>": value}], named columns {"<column>": [...]}, or "dataframe_split".`);
    return wrapped(fromRows(data, input, where), true);
  }
  if (isObject(data) && Object.keys(data).length > 0) return wrapped(fromNamed(data, input, where), true);
  throw new PayloadError(`${where} is ${describe(data)}; it must be a list of rows, a list of records or an object of named columns.`);
}

/**
 * The parsed body with its answer's shape. A literal, not `{ ...parsed, wrap }`: V8 allocated
 * spread copies straight in the old generation, and the collections that reclaim them paused the
 * router's thread for milliseconds.
 */
function wrapped(p: Parsed, wrap: boolean): ParsedBody {
  return { rows: p.rows, values: p.values, text: p.text, wrap };
}

/** The JSON answer: predictions as the model returned them, one per row. */
export function answer(predictions: unknown[], wrap: boolean): string {
  return JSON.stringify(wrap ? { predictions } : predictions);
}

/** Rows of values in signature order; with one column, bare values are rows (as MLflow reads them). */
function fromRows(data: unknown[], input: TensorInput, where: string): Parsed {
  const cells = new Cells(data.length, input);
  data.forEach((raw, i) => {
    const row = Array.isArray(raw) ? raw : input.features === 1 ? [raw] : undefined;
    if (!row) throw new PayloadError(`${where}[${i}] is ${describe(raw)}, not a row of values. Send a list of rows, each with one value per ${input.columns ? `column of the model's signature in this order: ${names(input)}` : 'feature'}.`);
    if (row.length !== input.features) {
      throw new PayloadError(
        `${where}[${i}] has ${count(row.length, 'value')} but the model's signature has ${input.columns ? `${count(input.features, 'column')}: ${names(input)}. Send one value per column in that order, or name the columns with {"input_data": {"columns": [...], "index": [...], "data": [[...]]}}.` : `${count(input.features, 'feature')}.`}`,
      );
    }
    row.forEach((v, j) => cells.put(i, j, v));
  });
  return cells.parsed();
}

function fromSplit(split: Record<string, unknown>, input: TensorInput, where: string): Parsed {
  const { columns, data } = split;
  if (!Array.isArray(columns) || !columns.every((c) => typeof c === 'string')) throw new PayloadError(`${where}.columns must be a list of column names.`);
  if (!Array.isArray(data)) throw new PayloadError(`${where}.data must be a list of rows (got ${describe(data)}).`);
  if (!input.columns) return fromRows(data, input, `${where}.data`);
  const at = positions(columns, input);
  const cells = new Cells(data.length, input);
  data.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== columns.length) throw new PayloadError(`${where}.data[${i}] must be a row of ${count(columns.length, 'value')}, one per name in ${where}.columns (got ${describe(row)}${Array.isArray(row) ? ` of ${row.length}` : ''}).`);
    at.forEach((k, j) => cells.put(i, j, row[k]));
  });
  return cells.parsed();
}

function fromRecords(records: unknown[], input: TensorInput, where: string): Parsed {
  if (!input.columns) throw new PayloadError(`${where} holds records, but the model's signature is a tensor of ${count(input.features, 'value')} per row, not named columns: send rows [[...]].`);
  const cols = input.columns;
  const cells = new Cells(records.length, input);
  records.forEach((rec, i) => {
    if (!isObject(rec)) throw new PayloadError(`${where}[${i}] is ${describe(rec)}, not a record {"<column>": value, ...}.`);
    cols.forEach((c, j) => {
      if (!(c.name in rec)) throw missing(c.name, Object.keys(rec), input);
      cells.put(i, j, rec[c.name]);
    });
  });
  return cells.parsed();
}

/** Named tensors: `{"<column>": [values…]}` for a column signature, `{"<name>": [[...]]}` for a tensor one. */
function fromNamed(named: Record<string, unknown>, input: TensorInput, where: string): Parsed {
  if (!input.columns) {
    const keys = Object.keys(named);
    const only = named[keys[0] as string];
    if (keys.length !== 1 || !Array.isArray(only)) throw new PayloadError(`${where} names ${keys.map((k) => JSON.stringify(k)).join(', ')}; the model takes one tensor: send {"<name>": [[...]]} or the rows alone.`);
    return fromRows(only, input, `${where}.${keys[0]}`);
  }
  const cols = input.columns;
  const series = cols.map((c) => {
    if (!(c.name in named)) throw missing(c.name, Object.keys(named), input);
    const v = named[c.name];
    return Array.isArray(v) ? v : [v];
  });
  const rows = series[0]?.length ?? 0;
  series.forEach((s, j) => {
    if (s.length !== rows) throw new PayloadError(`${where}: column '${cols[j]?.name}' has ${count(s.length, 'value')} but '${cols[0]?.name}' has ${rows}; every column needs one value per row.`);
  });
  const cells = new Cells(rows, input);
  for (let i = 0; i < rows; i++) series.forEach((s, j) => cells.put(i, j, s[i]));
  return cells.parsed();
}

/** Where each signature column is in the given column names. */
function positions(given: string[], input: TensorInput): number[] {
  return (input.columns ?? []).map((c) => {
    const k = given.indexOf(c.name);
    if (k < 0) throw missing(c.name, given, input);
    return k;
  });
}

function missing(column: string, given: string[], input: TensorInput): PayloadError {
  const unknown = given.filter((g) => !input.columns?.some((c) => c.name === g));
  return new PayloadError(
    `The input has no column '${column}', which the model's signature requires (its columns: ${names(input)})${unknown.length ? `; it has ${unknown.map((u) => `'${u}'`).join(', ')}, which the signature does not` : ''}.`,
  );
}

/** A value checked against its column's type, as MLflow's schema enforcement would. */
function number(v: unknown, input: TensorInput, column: number, row: number): number {
  const col = input.columns?.[column];
  const what = col ? `column '${col.name}' (${col.type})` : `feature ${column}`;
  if (typeof v === 'boolean' && col?.type === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'number') throw new PayloadError(`Row ${row}, ${what}: got ${v === null || v === undefined ? 'no value' : JSON.stringify(v)}, not a ${col?.type === 'boolean' ? 'boolean' : 'number'}. Check the input against the model's signature${col ? ` (${names(input)})` : ''}.`);
  if ((col?.type === 'long' || col?.type === 'integer') && !Number.isInteger(v)) throw new PayloadError(`Row ${row}, ${what}: got ${v}, not an integer.`);
  if (col?.type === 'boolean') throw new PayloadError(`Row ${row}, ${what}: got ${v}, not true or false.`);
  return v;
}

/** A text column's value: MLflow's schema enforcement takes strings only there. */
function string(v: unknown, input: TensorInput, column: number, row: number): string {
  if (typeof v === 'string') return v;
  const col = input.columns?.[column];
  throw new PayloadError(`Row ${row}, column '${col?.name}' (string): got ${v === null || v === undefined ? 'no value' : JSON.stringify(v)}, not a string. Check the input against the model's signature (${names(input)}).`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const names = (input: TensorInput): string => (input.columns ?? []).map((c) => c.name).join(', ');
const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (isObject(v)) return Object.keys(v).length === 0 ? 'an empty object' : 'an object';
  if (v === null || v === undefined) return 'null';
  return typeof v === 'string' ? 'a string' : typeof v === 'boolean' ? 'a boolean' : 'a number';
}
