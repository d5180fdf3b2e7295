import { invalid } from '../core/errors.js';

/** MLflow's logging limits (mlflow/utils/validation.py), so clients that fit MLflow fit Lapis. */
export const LIMITS = {
  batchMetrics: 1000,
  batchParams: 100,
  batchTags: 100,
  batchEntities: 1000,
  keyLength: 250,
  paramValue: 6000,
  runTagValue: 8000,
  experimentTagValue: 5000,
  experimentName: 500,
  runName: 250,
  datasetName: 500,
  datasetDigest: 36,
  datasetSource: 65_536,
  datasetSchema: 1_048_576,
  datasetProfile: 16_777_216,
  inputTagKey: 255,
  inputTagValue: 500,
  searchRunsMaxResults: 50_000,
  searchExperimentsMaxResults: 50_000,
  historyBulkRuns: 100,
  historyBulkMaxResults: 2500,
} as const;

const KEY_PATTERN = /^[/\w.\- ]*$/;
const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

export function checkKey(kind: string, key: unknown): string {
  if (typeof key !== 'string' || key === '') throw invalid(`Missing value for ${kind} key: pass a non-empty string.`);
  if (key.length > LIMITS.keyLength) {
    throw invalid(`${kind} key '${key.slice(0, 40)}…' is ${key.length} characters long; the limit is ${LIMITS.keyLength}.`);
  }
  if (!KEY_PATTERN.test(key)) {
    throw invalid(
      `Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`,
    );
  }
  // Keys become artifact-like paths in some stores; refuse ones that would escape their folder.
  if (key.startsWith('/') || DOT_SEGMENT.test(key)) {
    throw invalid(`Invalid ${kind} name: '${key}'. Names may not start with '/' or contain '.' or '..' path segments.`);
  }
  return key;
}

export function checkValueLength(kind: string, key: string, value: string, limit: number): void {
  if (value.length > limit) {
    throw invalid(`${kind} '${key}' has a value of ${value.length} characters; the limit is ${limit}. Shorten the value, or log it as an artifact.`);
  }
}

export function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw invalid(`Missing value for required parameter '${name}'.`);
  return value;
}

export function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`Parameter '${name}' must be a string, got ${describe(value)}.`);
  return value;
}

/** int64 fields arrive as numbers or, from proto-JSON clients, as decimal strings. */
export function optionalInt(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw invalid(`Parameter '${name}' must be an integer, got ${describe(value)}.`);
  }
  return n;
}

export function requireInt(name: string, value: unknown): number {
  const n = optionalInt(name, value);
  if (n === undefined) throw invalid(`Missing value for required parameter '${name}'.`);
  return n;
}

/** Metric values: numbers, or the strings proto-JSON uses for non-finite doubles. */
export function metricValue(key: string, value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    if (value === 'NaN') return Number.NaN;
    if (value === 'Infinity') return Number.POSITIVE_INFINITY;
    if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
    // Decimal notation only: Number() would also take '0x10' or ' 1 '.
    if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) return Number(value);
  }
  throw invalid(`Got invalid value ${describe(value)} for metric '${key}': metric values must be numbers (or "NaN", "Infinity", "-Infinity").`);
}

export function optionalBool(name: string, value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw invalid(`Parameter '${name}' must be a boolean, got ${describe(value)}.`);
}

export function maxResults(name: string, value: unknown, fallback: number, limit: number): number {
  const n = optionalInt(name, value) ?? fallback;
  if (n < 1 || n > limit) throw invalid(`Invalid value ${n} for parameter '${name}': it must be at least 1 and at most ${limit}.`);
  return n;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 60)}…` : value}'`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** The list of {key,value} pairs MLflow sends for tags/params, validated. */
export function keyValues(kind: string, value: unknown): { key: string; value: string }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`Parameter '${kind}' must be a list of {key, value} objects.`);
  return value.map((item: unknown, i) => {
    const entry = item as { key?: unknown; value?: unknown } | null;
    if (!entry || typeof entry !== 'object') throw invalid(`${kind}[${i}] must be an object with 'key' and 'value'.`);
    const key = checkKey(kind, entry.key);
    const v = entry.value ?? '';
    if (typeof v !== 'string') throw invalid(`${kind}[${i}] ('${key}') value must be a string, got ${describe(v)}.`);
    return { key, value: v };
  });
}
