/**
 * Turns a submitted command job into what its task runner needs (see docs/task-protocol.md):
 * every reference resolved to files the runner can fetch, the environment to a venv spec or the
 * host Python, the command bound but for data paths. Every problem is collected and reported at
 * once, before anything is created.
 */
import { LapisError, invalid } from '../core/errors.js';
import type { ContentFile, ContentStore } from '../registry/content.js';
import type { AssetService } from '../registry/assets.js';
import { scopeOf, type ModelAssets } from '../registry/model-assets.js';
import { bindCommand, literalText } from '../specs/binding.js';
import { parseAssetRef, validateSpec, type JobDataInputSpec, type JobOutputSpec, type JobSpec } from '../specs/index.js';
import type { ComputeTargets, ComputeView } from '../compute/targets.js';
import { DatastoreService } from '../datastores/service.js';
import { environmentOf, type TaskEnvironment } from '../compute/environments.js';

export type Source =
  | { kind: 'content'; hash: string; registry: string | null; files: ContentFile[]; file?: string }
  | { kind: 'model'; name: string; version: string; registry: string | null; files: { path: string; size: number }[] }
  | { kind: 'url'; url: string }
  | { kind: 'datastore'; datastore: string; path: string; files: { path: string; size: number }[]; file?: string };

export interface TaskInput {
  type: JobDataInputSpec['type'];
  mode: JobDataInputSpec['mode'];
  uri: string;
  source?: Source;
}

/** The stored part of a task; attempt, tracking URI and the token are added when it is fetched. */
export interface TaskBody {
  command: string;
  code: { hash: string; registry: null; files: ContentFile[] } | null;
  environment: TaskEnvironment;
  environment_variables: Record<string, string>;
  inputs: Record<string, TaskInput>;
  outputs: Record<string, { type: JobOutputSpec['type']; mode: JobOutputSpec['mode']; path?: string }>;
  timeout_s: number | null;
  instance_count: number;
}

/** What the client uploaded for the spec's local paths: the code folder and input paths. */
export interface Uploads {
  code?: string;
  inputs?: Record<string, string>;
}

export interface Resolved {
  spec: JobSpec;
  task: TaskBody;
  compute: ComputeView;
  /** Data assets consumed (for the run's dataset inputs and lineage), as `azureml:name:version`. */
  dataRefs: string[];
  environmentRef: string;
}

export interface ResolveDeps {
  assets: AssetService;
  models: ModelAssets;
  content: ContentStore;
  computes: ComputeTargets;
  datastores: DatastoreService;
  /** Content of a finished job's output: undefined when the job or output does not exist. */
  jobOutput(workspace: string, job: string, output: string): Promise<{ hash: string | null; files: ContentFile[] } | undefined>;
}

const URI = /^[a-z][a-z0-9+.-]+:/i;
const JOB_OUTPUT = /^azureml:\/\/jobs\/([^/]+)\/outputs\/([A-Za-z_][A-Za-z0-9_]*)\/?$/;
const MODEL_TYPES = new Set(['mlflow_model', 'custom_model']);

class Problems {
  readonly list: { path: string; message: string }[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
  async guard<T>(path: string, work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (err) {
      if (!(err instanceof LapisError) || err.status >= 500) throw err;
      this.add(path, err.message);
      return undefined;
    }
  }
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const n = this.list.length;
    throw new LapisError('INVALID_ARGUMENT', `The job cannot be submitted: ${n} problem${n === 1 ? '' : 's'}:\n${this.list.map((p) => `  ${p.path || '(root)'}: ${p.message}`).join('\n')}`, { errors: this.list });
  }
}

export async function resolveJob(workspace: string, rawSpec: unknown, uploads: Uploads, deps: ResolveDeps): Promise<Resolved> {
  const schemaErrors = validateSpec('job', rawSpec);
  if (schemaErrors.length > 0) {
    const n = schemaErrors.length;
    throw new LapisError('INVALID_ARGUMENT', `The job spec has ${n} error${n === 1 ? '' : 's'}:\n${schemaErrors.map((e) => `  ${e.path || '(root)'}: ${e.message}`).join('\n')}`, { errors: schemaErrors });
  }
  const spec = normalise(rawSpec as JobSpec);
  const problems = new Problems();

  const compute = await problems.guard('compute', () => deps.computes.resolve(workspace, spec.compute));
  const instanceCount = spec.resources?.instance_count ?? 1;
  if (compute && instanceCount > compute.max_instances) {
    problems.add('resources.instance_count', `${instanceCount} instances do not fit compute '${compute.name}', which has ${compute.max_instances} slot(s); lower instance_count or use a larger target`);
  }

  const env = await problems.guard('environment', () => environmentOf(workspace, spec.environment, deps.assets));

  let code: TaskBody['code'] = null;
  if (spec.code !== undefined) {
    if (URI.test(spec.code) && !spec.code.startsWith('file:')) problems.add('code', `'${spec.code}' is not a local folder; code must be a local folder, which the CLI uploads`);
    else if (!uploads.code) problems.add('code', `the local folder '${spec.code}' was not uploaded; submit with the CLI (lapis job create -f job.yml), which uploads it`);
    else {
      const found = await problems.guard('code', () => deps.content.find(workspace, uploads.code as string));
      if (found === undefined && !problems.list.some((p) => p.path === 'code')) problems.add('code', `the code upload ${uploads.code.slice(0, 12)}… is not stored in workspace '${workspace}'; upload it again`);
      if (found) code = { hash: uploads.code, registry: null, files: found.files };
    }
  }

  const literals: Record<string, string> = {};
  const inputs: Record<string, TaskInput> = {};
  const dataRefs: string[] = [];
  for (const [name, input] of Object.entries(spec.inputs ?? {})) {
    if (typeof input !== 'object') {
      literals[name] = literalText(input);
      continue;
    }
    const resolved = await problems.guard(`inputs.${name}.path`, () => inputOf(workspace, name, input, uploads.inputs?.[name], deps));
    if (!resolved) continue;
    inputs[name] = resolved.input;
    if (resolved.dataRef) dataRefs.push(resolved.dataRef);
  }

  const outputs: TaskBody['outputs'] = {};
  for (const [name, output] of Object.entries(spec.outputs ?? {})) {
    outputs[name] = { type: output.type, mode: output.mode };
    if (output.path !== undefined) {
      const at = await problems.guard(`outputs.${name}.path`, async () => deps.datastores.parse(output.path as string));
      if (at) outputs[name] = { ...outputs[name], path: `azureml://datastores/${at.datastore}/paths/${at.path}` };
    }
    if (output.name && output.version !== undefined) {
      await problems.guard(`outputs.${name}.version`, () => refuseExistingVersion(workspace, output, deps));
    }
  }
  problems.throwIfAny();

  const paths = new Set([...Object.keys(inputs).map((n) => `inputs.${n}`), ...Object.keys(outputs).map((n) => `outputs.${n}`)]);
  return {
    spec,
    compute: compute as ComputeView,
    dataRefs,
    environmentRef: typeof spec.environment === 'string' ? spec.environment : (env as TaskEnvironment).name,
    task: {
      command: bindCommand(spec.command, literals, paths),
      code,
      environment: env as TaskEnvironment,
      environment_variables: spec.environment_variables ?? {},
      inputs,
      outputs,
      timeout_s: spec.limits?.timeout ?? null,
      instance_count: instanceCount,
    },
  };
}

/** API callers send plain JSON: the port defaults the YAML loader applies are applied here too. */
function normalise(spec: JobSpec): JobSpec {
  const inputs = Object.fromEntries(
    Object.entries(spec.inputs ?? {}).map(([k, v]) => [k, typeof v === 'object' ? { ...v, type: v.type ?? 'uri_folder', mode: v.mode ?? 'ro_mount' } : v]),
  );
  const outputs = Object.fromEntries(
    Object.entries(spec.outputs ?? {}).map(([k, v]) => {
      const o = (v ?? {}) as Partial<JobOutputSpec>;
      return [k, { ...o, type: o.type ?? 'uri_folder', mode: o.mode ?? 'rw_mount', ...(o.version !== undefined ? { version: String(o.version) } : {}) }];
    }),
  );
  const variables = Object.fromEntries(Object.entries(spec.environment_variables ?? {}).map(([k, v]) => [k, String(v)]));
  return { ...spec, inputs, outputs, environment_variables: variables } as JobSpec;
}


async function inputOf(
  workspace: string,
  name: string,
  input: JobDataInputSpec,
  upload: string | undefined,
  deps: ResolveDeps,
): Promise<{ input: TaskInput; dataRef?: string }> {
  // MLTable's eval modes differ from the plain ones only in who reads the MLTable file: here, the job.
  const mode = input.mode === 'eval_mount' ? 'ro_mount' : input.mode === 'eval_download' ? 'download' : input.mode;
  const base = { type: input.type, mode, uri: input.path };
  const direct = input.mode === 'direct';
  if (/^https?:\/\//i.test(input.path)) {
    if (input.type !== 'uri_file' && !direct) throw invalid(`an http(s) URL can be fetched only as a uri_file; for a ${input.type}, use mode: direct (the URL is passed as is)`);
    return { input: { ...base, source: { kind: 'url', url: input.path } } };
  }
  const jobOutput = JOB_OUTPUT.exec(input.path);
  if (jobOutput) {
    const [, job, output] = jobOutput as unknown as [string, string, string];
    const found = await deps.jobOutput(workspace, job, output);
    if (!found) throw invalid(`job '${job}' has no output '${output}' in workspace '${workspace}' (check lapis job show ${job})`);
    if (!found.hash) throw invalid(`output '${output}' of job '${job}' is empty or the job has not completed`);
    return { input: { ...base, source: contentSource(found.hash, null, found.files, input.type, input.path) } };
  }
  if (!URI.test(input.path) || input.path.startsWith('file:')) {
    if (direct) throw invalid(`mode: direct passes the path as is, and '${input.path}' is a local path on the submitting machine; use ro_mount or download`);
    if (!upload) throw invalid(`the local path '${input.path}' was not uploaded; submit with the CLI (lapis job create -f job.yml), which uploads it`);
    const found = await deps.content.find(workspace, upload);
    if (!found) throw invalid(`the upload of '${input.path}' (${upload.slice(0, 12)}…) is not stored in workspace '${workspace}'; upload it again`);
    return { input: { ...base, source: contentSource(upload, null, found.files, input.type, input.path) } };
  }
  if (MODEL_TYPES.has(input.type)) return { input: { ...base, source: await modelSource(workspace, input.path, deps.models) } };
  if (DatastoreService.isUri(input.path)) {
    if (direct) return { input: base };
    return { input: { ...base, source: await datastoreSource(workspace, input.path, input.type, deps.datastores) } };
  }
  // s3://, wasbs://, long-form azureml:// URIs: storage the runner has no credentials for.
  const foreign = /^azureml:\/\/(?!registries\/)/.test(input.path) || (/^[a-z][a-z0-9+.-]*:\/\//i.test(input.path) && !input.path.startsWith('azureml://'));
  if (foreign) {
    if (direct) return { input: base };
    throw invalid(`'${input.path}' cannot be fetched by the task runner; use a data asset (azureml:<name>:<version>), an http(s) URL, or mode: direct`);
  }
  const asset = await deps.assets.resolve(workspace, 'data', input.path);
  const ref = asset.reference;
  if (!asset.content_hash) {
    const path = String(asset.spec.path ?? '');
    if (DatastoreService.isUri(path) && !direct) return { input: { ...base, source: await datastoreSource(workspace, path, input.type, deps.datastores) }, dataRef: ref };
    if (/^https?:\/\//i.test(path) && (input.type === 'uri_file' || direct)) return { input: { ...base, source: { kind: 'url', url: path } }, dataRef: ref };
    if (direct) return { input: { ...base, uri: path }, dataRef: ref };
    throw invalid(`data asset ${ref} points at ${path}, which the task runner cannot fetch; use mode: direct`);
  }
  const registry = asset.scope.startsWith('registry/') ? asset.scope.slice('registry/'.length) : null;
  const content = await deps.content.find(asset.scope, asset.content_hash);
  if (!content) throw invalid(`the files of data asset ${ref} are missing from storage`);
  return { input: { ...base, source: contentSource(asset.content_hash, registry, content.files, input.type, ref) }, dataRef: ref };
}

async function datastoreSource(workspace: string, uri: string, type: string, datastores: DatastoreService): Promise<Source> {
  const at = datastores.parse(uri);
  const { folder, files } = await datastores.files(workspace, at);
  if (files.length === 0) throw invalid(`nothing is stored at ${uri}; a job output with path: ${uri} writes there`);
  if (type === 'uri_file' && files.length !== 1) throw invalid(`${uri} holds ${files.length} files, but a uri_file input needs exactly one; use type: uri_folder`);
  return { kind: 'datastore', datastore: at.datastore, path: folder, files, ...(type === 'uri_file' ? { file: (files[0] as { path: string }).path } : {}) };
}

function contentSource(hash: string, registry: string | null, files: ContentFile[], type: string, what: string): Source {
  if (type !== 'uri_file') return { kind: 'content', hash, registry, files };
  if (files.length !== 1) throw invalid(`${what} holds ${files.length} files, but a uri_file input needs exactly one; use type: uri_folder`);
  return { kind: 'content', hash, registry, files, file: (files[0] as ContentFile).path };
}

async function modelSource(workspace: string, reference: string, models: ModelAssets): Promise<Source> {
  const ref = parseAssetRef(reference, 'models');
  const scope = scopeOf(ref.registry ? `registry/${ref.registry}` : workspace);
  const version = await models.resolveVersion(scope, ref.name, ref.version ?? 'latest');
  const files = await models.files(scope, ref.name, version);
  if (files.length === 0) throw invalid(`model ${ref.name}:${version} has no files`);
  return { kind: 'model', name: ref.name, version, registry: ref.registry ?? null, files };
}

async function refuseExistingVersion(workspace: string, output: JobOutputSpec, deps: ResolveDeps): Promise<void> {
  const name = output.name as string;
  const version = output.version as string;
  const exists = MODEL_TYPES.has(output.type)
    ? await deps.models.resolveVersion(scopeOf(workspace), name, version).then(
        () => true,
        () => false,
      )
    : await deps.assets.get(workspace, 'data', name, version).then(
        () => true,
        () => false,
      );
  if (exists) throw invalid(`${MODEL_TYPES.has(output.type) ? 'model' : 'data asset'} ${name}:${version} already exists and versions are immutable; omit version to get the next one`);
}
