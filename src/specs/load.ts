/**
 * Load an Azure-ML-compatible asset YAML: parse, apply `--set` overrides, validate against the
 * schema plus cross-field checks, and report every problem at once with `file:line:col`.
 *
 * Validation works on plain JS values (so `validateSpec` serves API callers too); the YAML
 * document is kept only to map an error's path back to a line and column.
 */
import { Value } from '@sinclair/typebox/value';
import { LineCounter, isMap, isNode, isScalar, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import { LapisError, invalid } from '../core/errors.js';
import { crossIssues } from './checks.js';
import { displayPath, schemaIssues } from './issues.js';
import type { Issue } from './issues.js';
import { IGNORED_KEY_PATTERN, SPEC_SCHEMAS } from './schemas.js';
import type { SpecKind, SpecOf } from './schemas.js';

export type { SpecKind, SpecOf } from './schemas.js';

export interface SpecError {
  path: string;
  line?: number;
  column?: number;
  message: string;
}

export interface LoadOptions {
  /** Shown in messages; defaults to `<spec>`. */
  file?: string;
  /** `key.path=value` overrides, as `az ml ... --set`; values are YAML scalars (or flow collections). */
  set?: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function schemaFor(kind: SpecKind) {
  const schema = SPEC_SCHEMAS[kind];
  if (!schema) throw invalid(`unknown spec kind '${String(kind)}'; expected one of ${Object.keys(SPEC_SCHEMAS).join(', ')}`);
  return schema;
}

/** `x-*` and `_*` keys are for tools and YAML anchors; they are dropped before validation. */
function withoutIgnoredKeys(spec: Obj): Obj {
  return Object.fromEntries(Object.entries(spec).filter(([key]) => !IGNORED_KEY_PATTERN.test(key)));
}

function collectIssues(kind: SpecKind, value: unknown): Issue[] {
  const schema = schemaFor(kind);
  if (value === null || value === undefined) {
    return [{ path: [], message: `the spec is empty; a ${kind} spec needs at least: ${(schema.required ?? []).join(', ')}` }];
  }
  if (!isObj(value)) return [{ path: [], message: `must be a mapping of keys (e.g. name: my-${kind}), not ${Array.isArray(value) ? 'a list' : 'a single value'}` }];
  const spec = withoutIgnoredKeys(value);
  return [...schemaIssues(schema, spec), ...crossIssues(kind, spec)];
}

/** Validate a plain value (e.g. a JSON request body); errors carry paths but no line numbers. */
export function validateSpec<K extends SpecKind>(kind: K, value: unknown): SpecError[] {
  return collectIssues(kind, value).map((issue) => ({ path: displayPath(issue.path), message: issue.message }));
}

// ------------------------------------------------------------------ normalisation

const asString = (v: unknown) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v);
const stringValues = (map: unknown) => (isObj(map) ? Object.fromEntries(Object.entries(map).map(([k, v]) => [k, asString(v)])) : map);

function stringify(spec: Obj, keys: readonly string[], maps: readonly string[]): void {
  for (const key of keys) if (spec[key] !== undefined) spec[key] = asString(spec[key]);
  for (const key of maps) if (spec[key] !== undefined) spec[key] = stringValues(spec[key]);
}

/** Defaults applied; versions, python constraints, tag and property values as strings. */
function normalise<K extends SpecKind>(kind: K, valid: Obj): SpecOf<K> {
  const spec = Value.Default(schemaFor(kind), structuredClone(withoutIgnoredKeys(valid))) as Obj;
  stringify(spec, ['version', 'python'], ['tags', 'properties', 'environment_variables']);
  if (isObj(spec.environment)) stringify(spec.environment, ['python'], ['tags']);
  // Value.Default does not reach into Record values, so input defaults are applied here.
  if (kind === 'job') normaliseJobPorts(spec);
  else if (isObj(spec.inputs)) for (const input of Object.values(spec.inputs)) if (isObj(input)) input.optional ??= false;
  return spec as SpecOf<K>;
}

function normaliseJobPorts(spec: Obj): void {
  if (isObj(spec.inputs)) {
    for (const input of Object.values(spec.inputs)) {
      if (!isObj(input)) continue;
      input.type ??= 'uri_folder';
      input.mode ??= 'ro_mount';
    }
  }
  if (isObj(spec.outputs)) {
    for (const [name, output] of Object.entries(spec.outputs)) {
      const o = isObj(output) ? output : {};
      o.type ??= 'uri_folder';
      o.mode ??= 'rw_mount';
      if (o.version !== undefined) o.version = asString(o.version);
      spec.outputs[name] = o;
    }
  }
}

// ------------------------------------------------------------------ YAML source

/**
 * Plain YAML reads `version: 1.10` as the number 1.1 and `python: 3.10` as 3.1. Where the schema
 * wants a string, take the number's source text instead so nothing is lost.
 */
function isStringlike(path: readonly string[]): boolean {
  const [a, b] = path;
  if (path.length === 1) return a === 'name' || a === 'version' || a === 'python';
  if (path.length === 2) return a === 'tags' || a === 'properties' || a === 'environment_variables' || (a === 'environment' && b === 'python');
  return path.length === 3 && ((a === 'environment' && b === 'tags') || (a === 'settings' && b === 'environment_variables'));
}

function keepNumberSource(node: unknown, path: string[]): void {
  if (isScalar(node)) {
    if (typeof node.value === 'number' && node.source !== undefined && isStringlike(path)) node.value = node.source;
    return;
  }
  if (!isMap(node) || path.length >= 3) return;
  for (const pair of node.items) {
    if (isScalar(pair.key)) keepNumberSource(pair.value, [...path, String(pair.key.value)]);
  }
}

interface Override {
  expr: string;
  path: string[];
}

const SEGMENT = /^[^\s[\]"'=]+$/;

function parseOverrideValue(text: string, path: string[]): unknown {
  if (text === '') return '';
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`value is not valid YAML (${doc.errors[0]?.message.split('\n')[0] ?? ''}); quote it`);
  // "a: b" is a string on the command line, not a mapping; flow collections ([..], {..}) are intended.
  if (!isScalar(doc.contents) && !/^[[{]/.test(text.trim())) return text;
  keepNumberSource(doc.contents, path);
  return doc.toJS();
}

function applyOverride(doc: Document, expr: string): Override {
  const eq = expr.indexOf('=');
  const key = eq > 0 ? expr.slice(0, eq).trim() : '';
  const path = key.replace(/\[(\d+)\]/g, '.$1').split('.');
  if (!key || !path.every((s) => SEGMENT.test(s))) {
    throw new Error('expected key.path=value, e.g. --set version=2 or --set inputs.lr.default=0.01');
  }
  const value = parseOverrideValue(expr.slice(eq + 1), path);
  try {
    // createNode: the node has no source range, so locate() never mistakes it for file text.
    doc.setIn(path, doc.createNode(value));
  } catch {
    throw new Error(`cannot set '${key}': a parent of it is not a mapping or list`);
  }
  return { expr, path };
}

function applyOverrides(doc: Document, exprs: readonly string[]): { overrides: Override[]; issues: Issue[] } {
  const overrides: Override[] = [];
  const issues: Issue[] = [];
  for (const expr of exprs) {
    try {
      overrides.push(applyOverride(doc, expr));
    } catch (err) {
      issues.push({ path: [], message: `invalid --set '${expr}': ${(err as Error).message}` });
    }
  }
  return { overrides, issues };
}

// ------------------------------------------------------------------ locating errors

interface Located extends SpecError {
  sortKey: number;
}

function keyNode(doc: Document, path: string[]): Node | undefined {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return undefined;
  const last = path[path.length - 1];
  const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === last);
  return isNode(pair?.key) ? pair.key : undefined;
}

/** The node at `path`, else its nearest ancestor present in the file (a missing key points at its parent). */
function nodeFor(doc: Document, path: string[], atKey: boolean): Node | undefined {
  if (atKey && path.length > 0) {
    const key = keyNode(doc, path);
    if (key?.range) return key;
  }
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return node;
  }
  return undefined;
}

const isPrefix = (prefix: readonly string[], path: readonly string[]) =>
  prefix.length <= path.length && prefix.every((s, i) => path[i] === s);

/** False for nodes an override created (they have no source range). */
function inFile(doc: Document, path: readonly string[]): boolean {
  const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
  return isNode(node) && node.range !== undefined && node.range !== null;
}

function locate(doc: Document, lines: LineCounter, overrides: readonly Override[], issue: Issue): Located {
  const path = displayPath(issue.path);
  const override = [...overrides].reverse().find((o) => isPrefix(o.path, issue.path) || (isPrefix(issue.path, o.path) && !inFile(doc, issue.path)));
  if (override) return { path, message: `${issue.message} (from --set ${override.expr})`, sortKey: Infinity };
  const node = nodeFor(doc, issue.path, issue.atKey === true);
  if (!node?.range) return { path, message: issue.message, sortKey: Infinity };
  const { line, col } = lines.linePos(node.range[0]);
  return { path, line, column: col, message: issue.message, sortKey: node.range[0] };
}

function syntaxErrors(doc: Document, lines: LineCounter): Located[] {
  return doc.errors.map((err) => {
    const { line, col } = lines.linePos(err.pos[0]);
    const message = `YAML syntax error: ${err.message.split('\n')[0] ?? err.code}`;
    return { path: '', line, column: col, message, sortKey: err.pos[0] };
  });
}

// ------------------------------------------------------------------ reporting

function formatError(file: string, e: SpecError): string {
  const where = e.line !== undefined ? `${file}:${e.line}:${e.column ?? 1}` : file;
  return `${where} ${e.path || '(root)'}: ${e.message}`;
}

function specErrors(file: string, located: Located[]): LapisError {
  const sorted = [...located].sort((a, b) => a.sortKey - b.sortKey);
  const errors: SpecError[] = sorted.map(({ sortKey: _sortKey, ...e }) => e);
  const heading = `${file} has ${errors.length} error${errors.length === 1 ? '' : 's'}:`;
  const message = [heading, ...errors.map((e) => `  ${formatError(file, e)}`)].join('\n');
  return new LapisError('INVALID_ARGUMENT', message, { errors });
}

/**
 * Parse, override, validate and normalise one spec. Throws a single INVALID_ARGUMENT LapisError
 * listing every problem (`details.errors`), sorted by position in the file.
 */
export function loadSpec<K extends SpecKind>(kind: K, text: string, opts: LoadOptions = {}): SpecOf<K> {
  const file = opts.file ?? '<spec>';
  const lines = new LineCounter();
  // merge: Azure ML reads YAML with PyYAML, where `<<: *anchor` merge keys work.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true });
  const { overrides, issues: setIssues } = applyOverrides(doc, opts.set ?? []);
  // Bad --set arguments come from the command line, not the file: no line, listed last.
  const badSet: Located[] = setIssues.map((issue) => ({ path: displayPath(issue.path), message: issue.message, sortKey: Infinity }));
  if (doc.errors.length > 0) throw specErrors(file, [...syntaxErrors(doc, lines), ...badSet]);

  keepNumberSource(doc.contents, []);
  const value: unknown = doc.toJS();
  const issues = collectIssues(kind, value);
  if (issues.length > 0 || badSet.length > 0) {
    throw specErrors(file, [...issues.map((issue) => locate(doc, lines, overrides, issue)), ...badSet]);
  }
  return normalise(kind, value as Obj);
}
