/**
 * Checks JSON Schema cannot express: an environment needs a source, component input defaults must
 * fit their type, and `command` may only use declared ports (optional ones inside `$[[ ... ]]`).
 *
 * They run on the raw value alongside schema validation, so they must tolerate ill-typed input:
 * each check looks only at the parts that already have the right shape.
 */
import { LapisError } from '../core/errors.js';
import { closest, shown } from './issues.js';
import type { Issue } from './issues.js';
import { parseAssetRef } from './references.js';
import { COMPUTE_NAME_PATTERN, ENVIRONMENT_SOURCES, INPUT_TYPES, IO_NAME_PATTERN } from './schemas.js';
import type { SpecKind } from './schemas.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const IO_NAME = new RegExp(IO_NAME_PATTERN);

export function crossIssues(kind: SpecKind, spec: Obj): Issue[] {
  if (kind === 'environment') return environmentSource(spec, []);
  if (kind === 'component') return componentIssues(spec);
  if (kind === 'job') return jobIssues(spec);
  if (kind === 'online-endpoint') return trafficIssues(spec.traffic, 'traffic');
  if (kind === 'online-deployment') return [...environmentIssues(spec.environment), ...variableIssues(spec.environment_variables), ...modelIssues(spec.model)];
  if (kind === 'batch-deployment') return batchDeploymentIssues(spec);
  if (kind === 'mltable') return [...singleKeyItems(spec.paths, 'paths', 'file, folder or pattern'), ...singleKeyItems(spec.transformations, 'transformations', 'e.g. read_delimited')];
  return [];
}

/** MLTable lists hold one-key mappings (`- file: a.csv`, `- take: 5`): two keys in one item is a lost `-`. */
function singleKeyItems(list: unknown, field: string, what: string): Issue[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, i) => {
    if (!isObj(item)) return [];
    const keys = Object.keys(item);
    if (keys.length === 1) return [];
    return [{ path: [field, String(i)], message: keys.length === 0 ? `needs one key (${what})` : `has ${keys.length} keys (${keys.join(', ')}); each item of ${field} takes one: start each with its own '-'` }];
  });
}

/** Azure needs image or build (conda_file layers on an image); Lapis can also build from conda_file alone. */
function environmentSource(env: Obj, path: string[]): Issue[] {
  if (ENVIRONMENT_SOURCES.some((key) => env[key] !== undefined)) return [];
  return [{ path, message: `needs one of ${ENVIRONMENT_SOURCES.join(', ')} (e.g. image: python:3.11-slim)` }];
}

function componentIssues(spec: Obj): Issue[] {
  const inputs = isObj(spec.inputs) ? spec.inputs : {};
  const outputs = isObj(spec.outputs) ? spec.outputs : {};
  return [
    ...portNames(inputs, 'inputs'),
    ...portNames(outputs, 'outputs'),
    ...Object.entries(inputs).flatMap(([name, input]) => (isObj(input) ? inputIssues(input, ['inputs', name]) : [])),
    ...(typeof spec.command === 'string' ? commandIssues(spec.command, inputs, outputs) : []),
    ...environmentIssues(spec.environment),
  ];
}

function portNames(ports: Obj, section: 'inputs' | 'outputs'): Issue[] {
  return Object.keys(ports)
    .filter((name) => !IO_NAME.test(name))
    .map((name) => ({
      path: [section, name],
      atKey: true,
      message: `${section === 'inputs' ? 'input' : 'output'} name '${name}' must start with a letter or "_" and contain only letters, digits and "_" (e.g. ${name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(\d)/, '_$1')})`,
    }));
}

// ------------------------------------------------------------------ inputs

const NUMERIC = new Set(['number', 'integer']);

/** What an input of `type` needs instead of `value`, or undefined if `value` fits. */
function misfit(type: string, value: unknown): string | undefined {
  const fits =
    type === 'number' ? typeof value === 'number'
    : type === 'integer' ? Number.isInteger(value)
    : type === 'boolean' ? typeof value === 'boolean'
    : typeof value === 'string'; // strings, and paths/URIs for data and model inputs
  if (fits) return undefined;
  const wanted = type === 'number' ? 'a number' : type === 'integer' ? 'an integer' : type === 'boolean' ? 'true or false' : 'a string';
  const article = type === 'integer' ? 'an' : 'a';
  const quote = wanted === 'a string' && value !== null && typeof value !== 'object' ? `; quote it: default: "${String(value)}"` : '';
  return `must be ${wanted} for ${article} ${type} input (got ${shown(value)})${quote}`;
}

function defaultIssues(input: Obj, type: string, path: string[]): Issue[] {
  const value = input.default;
  if (value === undefined) return [];
  const at = [...path, 'default'];
  const wrongType = misfit(type, value);
  if (wrongType) return [{ path: at, message: wrongType }];
  const issues: Issue[] = [];
  if (typeof value === 'number' && typeof input.min === 'number' && value < input.min) {
    issues.push({ path: at, message: `${value} is below min ${input.min}; raise the default or lower min` });
  }
  if (typeof value === 'number' && typeof input.max === 'number' && value > input.max) {
    issues.push({ path: at, message: `${value} is above max ${input.max}; lower the default or raise max` });
  }
  if (Array.isArray(input.enum) && !input.enum.includes(value)) {
    issues.push({ path: at, message: `must be one of the enum values ${input.enum.map(String).join(', ')} (got ${shown(value)})` });
  }
  return issues;
}

function rangeIssues(input: Obj, type: string, path: string[]): Issue[] {
  const issues: Issue[] = [];
  for (const bound of ['min', 'max'] as const) {
    if (input[bound] !== undefined && !NUMERIC.has(type)) {
      issues.push({ path: [...path, bound], message: `${bound} applies only to number and integer inputs (this one is ${type}); remove it` });
    }
  }
  if (NUMERIC.has(type) && typeof input.min === 'number' && typeof input.max === 'number' && input.min > input.max) {
    issues.push({ path: [...path, 'min'], message: `min (${input.min}) must not exceed max (${input.max}); swap them` });
  }
  if (input.enum !== undefined && type !== 'string') {
    issues.push({ path: [...path, 'enum'], message: `enum applies only to string inputs (this one is ${type}); use type: string or remove enum` });
  }
  return issues;
}

function inputIssues(input: Obj, path: string[]): Issue[] {
  const type = input.type;
  // An unknown type is already reported by the schema; the rest would only be noise.
  if (typeof type !== 'string' || !(INPUT_TYPES as readonly string[]).includes(type)) return [];
  return [...rangeIssues(input, type, path), ...defaultIssues(input, type, path)];
}

// ------------------------------------------------------------------ command

const EXPRESSION = /\$\{\{\s*(inputs|outputs)\.([^\s}]*)\s*\}\}/g;

/** The `$[[ ... ]]` spans of `command`, or the offset of a `$[[` that is never closed. */
function optionalFragments(command: string): { spans: Array<[number, number]>; unclosedAt?: number } {
  const spans: Array<[number, number]> = [];
  for (let from = 0; ; ) {
    const start = command.indexOf('$[[', from);
    if (start < 0) return { spans };
    const end = command.indexOf(']]', start + 3);
    if (end < 0) return { spans, unclosedAt: start };
    spans.push([start, end + 2]);
    from = end + 2;
  }
}

function undeclared(section: 'inputs' | 'outputs', name: string, declared: Obj): string {
  const names = Object.keys(declared);
  const guess = closest(name, names);
  const hint = guess ? `did you mean \${{${section}.${guess}}}?` : `declare it under ${section}:`;
  const known = names.length > 0 ? ` (declared: ${names.join(', ')})` : '';
  return `\${{${section}.${name}}} is not a declared ${section === 'inputs' ? 'input' : 'output'}; ${hint}${known}`;
}

/**
 * In a component every port is declared, so an undeclared name is a typo. In a job, an input
 * that is not given may still appear inside `$[[ ... ]]`: the fragment is simply dropped.
 */
function commandIssues(command: string, inputs: Obj, outputs: Obj, context: 'component' | 'job' = 'component'): Issue[] {
  const path = ['command'];
  const messages = new Set<string>();
  if (context === 'job') {
    for (const match of command.matchAll(/\$\{\{\s*([^}]*?)\s*\}\}/g)) {
      const expr = match[1] ?? '';
      if (!/^(inputs|outputs)\./.test(expr)) messages.add(`\${{${expr}}} cannot be bound in a command job; use \${{inputs.<name>}} or \${{outputs.<name>}}`);
    }
  }
  const { spans, unclosedAt } = optionalFragments(command);
  if (unclosedAt !== undefined) {
    messages.add(`'$[[' at character ${unclosedAt + 1} is never closed; end the optional fragment with ']]', e.g. $[[--lr \${{inputs.lr}}]]`);
  }
  for (const match of command.matchAll(EXPRESSION)) {
    const section = match[1] as 'inputs' | 'outputs';
    const name = match[2] ?? '';
    const declared = section === 'inputs' ? inputs : outputs;
    const port = declared[name];
    const offset = match.index;
    const guarded = spans.some(([start, end]) => offset > start && offset < end);
    if (port === undefined) {
      if (!(context === 'job' && section === 'inputs' && guarded)) messages.add(undeclared(section, name, declared));
      continue;
    }
    if (section === 'inputs' && isObj(port) && port.optional === true && !guarded) {
      messages.add(`optional input '${name}' is used outside $[[ ... ]]; wrap it, e.g. $[[--${name} \${{inputs.${name}}}]], or set optional: false`);
    }
  }
  return [...messages].map((message) => ({ path, message }));
}

// ------------------------------------------------------------------ environment

function environmentIssues(environment: unknown): Issue[] {
  if (isObj(environment)) return environmentSource(environment, ['environment']);
  if (typeof environment !== 'string' || environment === '') return [];
  try {
    parseAssetRef(environment, 'environments');
    return [];
  } catch (err) {
    if (err instanceof LapisError) return [{ path: ['environment'], message: err.message }];
    throw err;
  }
}

// ------------------------------------------------------------------ command job

/** Names Azure ML reserves, and the variables Lapis sets for every job process. */
const RESERVED_VARIABLES = ['PATH', 'LD_LIBRARY_PATH', 'USER', 'LOGNAME', 'HOME', 'PWD', 'SHELL', 'MLFLOW_TRACKING_URI', 'MLFLOW_RUN_ID', 'MLFLOW_EXPERIMENT_ID', 'MLFLOW_TRACKING_TOKEN', 'AZUREML_RUN_ID'];
const COMPUTE = new RegExp(COMPUTE_NAME_PATTERN);

function jobIssues(spec: Obj): Issue[] {
  const inputs = isObj(spec.inputs) ? spec.inputs : {};
  const outputs = isObj(spec.outputs) ? spec.outputs : {};
  return [
    ...portNames(inputs, 'inputs'),
    ...portNames(outputs, 'outputs'),
    ...Object.entries(inputs).flatMap(([name, input]) => (isObj(input) ? jobInputIssues(input, ['inputs', name]) : [])),
    ...Object.entries(outputs).flatMap(([name, output]) => (isObj(output) ? jobOutputIssues(output, ['outputs', name]) : [])),
    ...(typeof spec.command === 'string' ? commandIssues(spec.command, inputs, outputs, 'job') : []),
    ...environmentIssues(spec.environment),
    ...variableIssues(spec.environment_variables),
    ...computeIssues(spec.compute),
  ];
}

function jobInputIssues(input: Obj, path: string[]): Issue[] {
  const issues: Issue[] = [];
  const type = typeof input.type === 'string' ? input.type : 'uri_folder';
  if ((input.mode === 'eval_mount' || input.mode === 'eval_download') && type !== 'mltable') {
    issues.push({ path: [...path, 'mode'], message: `${String(input.mode)} applies to mltable inputs only; use ro_mount or download` });
  }
  return issues;
}

function jobOutputIssues(output: Obj, path: string[]): Issue[] {
  const issues: Issue[] = [];
  if (output.version !== undefined && output.name === undefined) issues.push({ path: [...path, 'version'], message: 'a version needs a name to register the output under; add name: <asset name>' });
  if (typeof output.path === 'string' && !output.path.startsWith('azureml://datastores/')) {
    issues.push({ path: [...path, 'path'], message: `an output path must be on a datastore: azureml://datastores/workspaceblobstore/paths/<path> (got '${output.path}')` });
  }
  return issues;
}

function variableIssues(variables: unknown, at: string[] = []): Issue[] {
  if (!isObj(variables)) return [];
  const path = (name: string) => [...at, 'environment_variables', name];
  return Object.keys(variables).flatMap((name) => {
    if (RESERVED_VARIABLES.includes(name.toUpperCase())) {
      return [{ path: path(name), atKey: true, message: `'${name}' is reserved: Lapis sets it for every job process; rename the variable` }];
    }
    if (name.toUpperCase().startsWith('LAPIS_')) return [{ path: path(name), atKey: true, message: `names starting with LAPIS_ are reserved for the task runner; rename '${name}'` }];
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return [{ path: path(name), atKey: true, message: `'${name}' is not a valid variable name: use letters, digits and "_", not starting with a digit` }];
    return [];
  });
}

function computeIssues(compute: unknown): Issue[] {
  if (typeof compute !== 'string' || compute === 'local') return [];
  const name = compute.startsWith('azureml:') ? compute.slice('azureml:'.length) : compute;
  if (COMPUTE.test(name)) return [];
  return [{ path: ['compute'], message: `'${compute}' is not a compute reference: use local or azureml:<name> (2-32 letters, digits and "-")` }];
}

// ------------------------------------------------------------------ online endpoints

export function trafficIssues(traffic: unknown, field: string): Issue[] {
  if (!isObj(traffic)) return [];
  const total = Object.values(traffic).reduce<number>((n, v) => n + (typeof v === 'number' ? v : 0), 0);
  if (total === 0 || total === 100) return [];
  return [{ path: [field], message: `the percentages add up to ${total}; they must add up to 100 (or 0 to stop all traffic)` }];
}

function modelIssues(model: unknown): Issue[] {
  if (typeof model !== 'string' || model === '') return [];
  try {
    parseAssetRef(model, 'models');
    return [];
  } catch (err) {
    if (err instanceof LapisError) return [{ path: ['model'], message: err.message }];
    throw err;
  }
}

// ------------------------------------------------------------------ batch deployments

/** The settings Azure ML accepts both at the top level and under `settings:`. */
export const BATCH_SETTINGS = ['mini_batch_size', 'max_concurrency_per_instance', 'error_threshold', 'output_action', 'output_file_name', 'retry_settings', 'logging_level', 'environment_variables'] as const;

function batchDeploymentIssues(spec: Obj): Issue[] {
  const settings = isObj(spec.settings) ? spec.settings : {};
  const twice = BATCH_SETTINGS.filter((key) => spec[key] !== undefined && settings[key] !== undefined).map((key) => ({
    path: ['settings', key],
    atKey: true,
    message: `${key} is also given at the top level; keep one (under settings: for type: model deployments)`,
  }));
  return [
    ...twice,
    ...environmentIssues(spec.environment),
    ...variableIssues(spec.environment_variables),
    ...variableIssues(settings.environment_variables, ['settings']),
    ...modelIssues(spec.model),
    ...computeIssues(spec.compute),
  ];
}
