/**
 * Scoring payloads as table rows, for the data collector's model_inputs / model_outputs: one JSON
 * object per row, the shape pandas reads back with `pd.DataFrame(records)`. Unlike a runtime's
 * parser this knows no signature and checks nothing: a body it cannot read as a table gives
 * `undefined`, and only the raw request/response collections record it.
 */
type Row = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The rows a scoring request carries (Azure ML's `input_data` or MLflow's four shapes). */
export function inputRows(body: unknown): Row[] | undefined {
  if (!isObject(body)) return undefined;
  if ('input_data' in body) return table(body.input_data);
  if ('dataframe_split' in body) return isObject(body.dataframe_split) ? split(body.dataframe_split) : undefined;
  if ('dataframe_records' in body) return Array.isArray(body.dataframe_records) && body.dataframe_records.every(isObject) ? (body.dataframe_records as Row[]) : undefined;
  if ('instances' in body) return table(body.instances);
  if ('inputs' in body) return table(body.inputs);
  return undefined;
}

/** The predictions of an answer (a list, or MLflow's `{"predictions": …}`), one row each. */
export function outputRows(answer: unknown): Row[] | undefined {
  const predictions = isObject(answer) && 'predictions' in answer ? answer.predictions : answer;
  if (isObject(predictions)) return columns(predictions);
  if (!Array.isArray(predictions)) return undefined;
  return predictions.map((p) => (isObject(p) ? p : { prediction: p }));
}

/** A split frame, a list of rows (objects, arrays or scalars), or named columns. */
function table(data: unknown): Row[] | undefined {
  if (Array.isArray(data)) return data.map((r) => (isObject(r) ? r : Array.isArray(r) ? Object.fromEntries(r.map((v, i) => [String(i), v])) : { '0': r }));
  if (!isObject(data)) return undefined;
  return 'columns' in data && 'data' in data ? split(data) : columns(data);
}

function split(frame: Record<string, unknown>): Row[] | undefined {
  const { columns: names, data } = frame;
  if (!Array.isArray(data) || !data.every(Array.isArray)) return undefined;
  const keys = Array.isArray(names) ? names.map(String) : undefined;
  return (data as unknown[][]).map((r) => Object.fromEntries(r.map((v, i) => [keys?.[i] ?? String(i), v])));
}

/** `{"a": [1, 2], "b": [3, 4]}`: columns of equal length. */
function columns(named: Record<string, unknown>): Row[] | undefined {
  const entries = Object.entries(named);
  if (entries.length === 0 || !entries.every(([, v]) => Array.isArray(v))) return undefined;
  const length = (entries[0]?.[1] as unknown[]).length;
  if (!entries.every(([, v]) => (v as unknown[]).length === length)) return undefined;
  return Array.from({ length }, (_, i) => Object.fromEntries(entries.map(([k, v]) => [k, (v as unknown[])[i]])));
}
