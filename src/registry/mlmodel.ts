/**
 * What Lapis reads of an MLflow model's `MLmodel` file: its flavors, its input signature and
 * whether an input example was saved, and the `metadata.lapis` block a packaged ONNX model carries.
 */
import YAML from 'yaml';
import { invalid } from '../core/errors.js';

/** MLflow's column types that are numbers (or booleans) once they reach a tensor. */
const NUMERIC_COLUMN_TYPES = ['double', 'float', 'long', 'integer', 'boolean'] as const;
/** What an ONNX model's columns may be: numbers and booleans (one [rows, features] tensor), or text and numbers (one input per column). */
export type OnnxColumnType = (typeof NUMERIC_COLUMN_TYPES)[number] | 'string';

export interface ColumnSpec {
  name: string | null;
  type: string;
  required: boolean;
}

export interface TensorSpec {
  name: string | null;
  dtype: string;
  shape: number[];
}

export type InputSignature = { kind: 'columns'; columns: ColumnSpec[] } | { kind: 'tensors'; tensors: TensorSpec[] };

export interface MlModel {
  flavors: string[];
  signature: InputSignature | null;
  hasInputExample: boolean;
  /** The onnx flavor's model file (relative to the model folder), if it has that flavor. */
  onnxFile: string | null;
  metadata: Record<string, unknown>;
}

/** Parses the text of an MLmodel file; a file that is not one is a 400 naming the problem. */
export function parseMlModel(text: string, what: string): MlModel {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw invalid(`The MLmodel file of ${what} is not valid YAML (${(err as Error).message}).`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid(`The MLmodel file of ${what} is not a YAML mapping.`);
  const m = doc as { flavors?: unknown; signature?: { inputs?: unknown } | null; saved_input_example_info?: unknown; metadata?: unknown };
  const flavors = m.flavors && typeof m.flavors === 'object' ? Object.keys(m.flavors) : [];
  const onnx = flavors.includes('onnx') ? (m.flavors as { onnx?: { data?: unknown } | null }).onnx : undefined;
  return {
    flavors,
    signature: typeof m.signature?.inputs === 'string' ? inputSignature(m.signature.inputs, what) : null,
    hasInputExample: !!m.saved_input_example_info,
    onnxFile: onnx === undefined ? null : typeof onnx?.data === 'string' ? onnx.data : 'model.onnx',
    metadata: m.metadata && typeof m.metadata === 'object' ? (m.metadata as Record<string, unknown>) : {},
  };
}

function inputSignature(json: string, what: string): InputSignature {
  let specs: unknown;
  try {
    specs = JSON.parse(json);
  } catch {
    throw invalid(`The signature inputs of ${what} are not JSON.`);
  }
  if (!Array.isArray(specs)) throw invalid(`The signature inputs of ${what} are not a list.`);
  const list = specs as { type?: string; name?: string; required?: boolean; 'tensor-spec'?: { dtype?: string; shape?: number[] } }[];
  if (list.length > 0 && list.every((s) => s.type === 'tensor')) {
    return { kind: 'tensors', tensors: list.map((s) => ({ name: s.name ?? null, dtype: s['tensor-spec']?.dtype ?? 'unknown', shape: s['tensor-spec']?.shape ?? [] })) };
  }
  return { kind: 'columns', columns: list.map((s) => ({ name: s.name ?? null, type: String(s.type), required: s.required !== false })) };
}

/**
 * Why a signature cannot feed an ONNX model as `lapis model package` makes them, or undefined when
 * it can: numeric and boolean columns (or one numeric tensor [-1, features]) go into one tensor of
 * rows; with text columns, each column is an input of its own, and booleans are not among them.
 */
export function onnxInputProblem(signature: InputSignature): string | undefined {
  if (signature.kind === 'columns') {
    const text = signature.columns.some((c) => c.type === 'string');
    const allowed: readonly string[] = text ? ['string', 'double', 'float', 'long', 'integer'] : NUMERIC_COLUMN_TYPES;
    const bad = signature.columns.filter((c) => !allowed.includes(c.type));
    if (bad.length > 0) {
      return `its signature has ${bad.map((c) => `${c.name ?? '(unnamed)'} (${c.type})`).join(', ')}, but ONNX models take ${text ? 'text columns with numeric ones (string, double, float, long, integer), not' : 'numeric, boolean and string columns, not'} these`;
    }
    if (signature.columns.some((c) => c.name === null)) return 'its signature has unnamed columns';
    return undefined;
  }
  const [t, ...rest] = signature.tensors;
  if (!t || rest.length > 0) return `its signature has ${signature.tensors.length} input tensors, not one`;
  if (t.shape.length !== 2 || !(t.shape[1] !== undefined && t.shape[1] > 0)) return `its input tensor has shape [${t.shape.join(', ')}], not [-1, features]`;
  if (!/^(float|int|uint|bool)/.test(t.dtype)) return `its input tensor is ${t.dtype}, not numeric`;
  return undefined;
}
