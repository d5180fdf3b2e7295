/**
 * TypeBox validation errors turned into messages that say how to fix the spec.
 *
 * An issue keeps its path as segments (not a display string) so load.ts can find the YAML node.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import type { ValueError } from '@sinclair/typebox/value';

export interface Issue {
  path: string[];
  message: string;
  /** Point at the key itself (unknown or misnamed keys) rather than at its value. */
  atKey?: boolean;
}

type SchemaLike = TSchema & {
  const?: unknown;
  anyOf?: SchemaLike[];
  properties?: Record<string, SchemaLike>;
  errorMessage?: string;
  patternErrorMessage?: string;
};

/** `'mlflow'`, `5`, `a mapping`: the offending value, short enough for one line. */
export function shown(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (typeof value === 'string') return value.length > 40 ? `'${value.slice(0, 37)}...'` : `'${value}'`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

const got = (value: unknown) => ` (got ${shown(value)})`;

/** JSON Pointer (`/inputs/lr~1x`) to segments. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `inputs.lr.type`, `tags["a.b"]`, `dependencies[1]`; empty for the root. */
export function displayPath(path: readonly string[]): string {
  let out = '';
  for (const segment of path) {
    if (/^\d+$/.test(segment)) out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Edits between two keys, a swap of neighbours counting as one (`tpye` is one edit from `type`). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The closest valid key, if it is close enough to be a typo. */
export function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  return best && best.distance <= Math.max(1, Math.floor(best.key.length / 3)) ? best.key : undefined;
}

function unknownKey(key: string, schema: SchemaLike): string {
  const valid = Object.keys(schema.properties ?? {});
  const guess = closest(key, valid);
  return `unknown key '${key}'${guess ? ` (did you mean '${guess}'?)` : ''}; valid keys: ${valid.join(', ')}`;
}

function required(key: string, schema: SchemaLike): string {
  const hint = typeof schema.description === 'string' ? ` (${schema.description.replace(/\.$/, '')})` : '';
  return `required; add '${key}:'${hint}`;
}

/** The JSON type a value has, and the one a (non-union) schema wants; integers count as numbers. */
function valueKind(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
function schemaKind(schema: SchemaLike): string | undefined {
  if (schema.const !== undefined) return typeof schema.const;
  if (schema.type === 'integer') return 'number';
  return typeof schema.type === 'string' ? schema.type : undefined;
}

function unionIssues(error: ValueError, path: string[]): Issue[] {
  const schema = error.schema as SchemaLike;
  const variants = schema.anyOf ?? [];
  if (variants.length > 0 && variants.every((v) => v.const !== undefined)) {
    return [{ path, message: `must be one of ${variants.map((v) => String(v.const)).join(', ')}${got(error.value)}` }];
  }
  // Report the variant shaped like the value: `environment: {image: 5}` should say image is wrong,
  // not that the environment matches neither a string nor an object.
  const kind = valueKind(error.value);
  const matching = variants.flatMap((v, i) => (schemaKind(v) === kind ? [i] : []));
  const only = matching.length === 1 ? [...(error.errors[matching[0] ?? 0] ?? [])] : [];
  // A bare type mismatch inside the variant (1.5 is not an integer) reads worse than the union's own message.
  const bareTypeError = only.every((e) => TYPE_NAMES[e.type] !== undefined && e.path === error.path);
  if (!bareTypeError) return fromErrors(only);
  return [{ path, message: `${schema.errorMessage ?? 'has an invalid value'}${got(error.value)}` }];
}

const TYPE_NAMES: Partial<Record<ValueErrorType, string>> = {
  [ValueErrorType.Object]: 'a mapping (key: value lines)',
  [ValueErrorType.Array]: 'a list',
  [ValueErrorType.String]: 'a string',
  [ValueErrorType.Number]: 'a number',
  [ValueErrorType.Integer]: 'an integer',
  [ValueErrorType.Boolean]: 'true or false',
};

function messageOf(error: ValueError, key: string): string {
  const schema = error.schema as SchemaLike & Record<string, number | undefined>;
  const typeName = TYPE_NAMES[error.type];
  if (typeName) return `must be ${typeName}${got(error.value)}`;
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return required(key, schema);
    case ValueErrorType.ObjectAdditionalProperties:
      return unknownKey(key, schema);
    case ValueErrorType.Literal:
      return `${schema.errorMessage ?? `must be '${String(schema.const)}'`}${got(error.value)}`;
    case ValueErrorType.StringPattern:
      return `${schema.patternErrorMessage ?? `must match ${String(schema.pattern)}`}${got(error.value)}`;
    case ValueErrorType.StringMinLength:
      return schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters`;
    case ValueErrorType.StringMaxLength:
      return `must be at most ${schema.maxLength} characters (got ${String(error.value).length})`;
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be at least ${schema.minimum}${got(error.value)}`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be at most ${schema.maximum}${got(error.value)}`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`;
    default:
      return `${error.message}${got(error.value)}`;
  }
}

function issuesOf(error: ValueError): Issue[] {
  const path = pointerSegments(error.path);
  if (error.type === ValueErrorType.Union) return unionIssues(error, path);
  const key = path[path.length - 1] ?? '';
  return [{ path, message: messageOf(error, key), atKey: error.type === ValueErrorType.ObjectAdditionalProperties }];
}

function fromErrors(errors: readonly ValueError[]): Issue[] {
  // TypeBox reports a missing required key twice: "required" and a type error on `undefined`.
  const missing = new Set(errors.filter((e) => e.type === ValueErrorType.ObjectRequiredProperty).map((e) => e.path));
  return errors.filter((e) => e.type === ValueErrorType.ObjectRequiredProperty || !missing.has(e.path)).flatMap(issuesOf);
}

/** Every schema violation, not just the first. */
export function schemaIssues(schema: TSchema, value: unknown): Issue[] {
  return fromErrors([...Value.Errors(schema, value)]);
}
