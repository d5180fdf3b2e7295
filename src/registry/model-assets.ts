import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { readText, type BlobStore } from '../blobs/index.js';
import { invalid, notFound } from '../core/errors.js';
import type { Tracking } from '../tracking/index.js';
import type { Workspace } from '../workspaces/service.js';
import { specErrors } from './assets.js';
import { ContentStore, checkHash, manifestHash, type ContentFile } from './content.js';
import type { ModelRegistry, ModelVersionView } from './model-registry.js';
import { parseAssetRef } from '../specs/references.js';

export interface LineageNode {
  id: string;
  kind: 'model_version' | 'run' | 'experiment' | 'logged_model' | 'dataset' | 'data' | 'environment' | 'code' | 'registry_model' | 'deployment';
  label: string;
  ref?: string;
}

export interface LineageGraph {
  root: string;
  nodes: LineageNode[];
  edges: { from: string; to: string; kind: string }[];
}

const AZUREML_DATA = /^azureml:([^:@/]+)(?::([^\s:@]+))?$/;

/** MLflow sends a dataset's source as JSON (`{"uri": "…"}`, `{"url": …}`, `{"path": …}`); older clients as a bare string. */
function sourceUri(source: string): string {
  try {
    const parsed = JSON.parse(source) as Record<string, unknown>;
    const uri = parsed.uri ?? parsed.url ?? parsed.path;
    return typeof uri === 'string' ? uri : source;
  } catch {
    return source;
  }
}

/** A scope handed to the registry services: a workspace, or a registry as `registry/<name>`. */
export const scopeOf = (name: string): Workspace => ({ name, description: '', defaultExperimentId: -1, createdAt: 0 });

/**
 * Models as Azure ML assets on top of the MLflow registry: created from YAML with uploaded files
 * or a run's model, listed with their files, traced to what produced them, shared to registries.
 */
export class ModelAssets {
  readonly #registry: ModelRegistry;
  readonly #content: ContentStore;
  readonly #blobs: BlobStore;
  readonly #tracking: Tracking;

  constructor(deps: { registry: ModelRegistry; content: ContentStore; blobs: BlobStore; tracking: Tracking }) {
    this.#registry = deps.registry;
    this.#content = deps.content;
    this.#blobs = deps.blobs;
    this.#tracking = deps.tracking;
  }

  /** `producedBy`: the run (a job's) that made the files; lineage is then read from that run. */
  async create(scope: Workspace, rawSpec: unknown, contentHash: unknown, userId: string | undefined, producedBy?: { runId: string }): Promise<ModelVersionView> {
    specErrors('model', rawSpec);
    const spec = rawSpec as { name: string; version?: string; path: string; type?: string; description?: string; tags?: Record<string, string> };
    const type = spec.type ?? 'custom_model';
    let source: string;
    if (contentHash !== undefined && contentHash !== null && contentHash !== '') {
      const hash = checkHash(contentHash);
      const content = await this.#content.find(scope.name, hash);
      if (!content) throw invalid(`Content ${hash.slice(0, 12)}… was not uploaded here: upload and commit it first.`);
      if (type === 'mlflow_model' && !content.files.some((f) => f.path === 'MLmodel')) {
        throw invalid(`type: mlflow_model needs an MLmodel file at the root of path '${spec.path}'; use type: custom_model for other files.`);
      }
      source = `mlflow-artifacts:/${ContentStore.proxyPath(hash)}`;
    } else if (/^(runs|models):\//.test(spec.path)) {
      source = spec.path;
    } else {
      throw invalid(`Model path '${spec.path}' must be uploaded (the CLI does this for local paths), or be runs:/<run_id>/<path> or models:/<model_id>.`);
    }
    if (scope.name.startsWith('registry/') && !source.startsWith('mlflow-artifacts:/content/')) {
      throw invalid('Models are created in a registry from uploaded files, or shared into it from a workspace with `lapis model share`.');
    }
    await this.#registry.ensureModel(scope, spec.name, userId);
    const tags = Object.entries(spec.tags ?? {}).map(([key, value]) => ({ key, value }));
    return this.#registry.createVersion(scope, {
      name: spec.name,
      source,
      tags,
      description: spec.description,
      userId,
      version: spec.version,
      modelType: type,
      ...(producedBy ? { runId: producedBy.runId } : {}),
    });
  }

  /** A version as given, or the newest non-archived one for 'latest'. */
  async resolveVersion(scope: Workspace, name: string, version: string): Promise<string> {
    if (version !== 'latest') return (await this.#registry.getVersion(scope, name, version)).version;
    const { versions } = await this.#registry.searchVersions(scope, { filter: `name = '${name.replace(/'/g, "\\'")}'`, orderBy: ['version_number DESC'], maxResults: 1000 });
    const latest = versions.find((v) => !v.archived);
    if (!latest) throw notFound(`Model '${name}' has no (non-archived) versions${scope.name.startsWith('registry/') ? ` in registry '${scope.name.slice(9)}'` : ''}.`);
    return latest.version;
  }

  /** The files of a model version, wherever its source put them. */
  async files(scope: Workspace, name: string, version: string): Promise<{ path: string; size: number }[]> {
    const { key } = await this.#storageKey(scope, name, version);
    const out: { path: string; size: number }[] = [];
    for await (const f of this.#blobs.listRecursive(key)) out.push(f);
    return out.sort((a, b) => a.path.localeCompare(b.path));
  }

  async open(scope: Workspace, name: string, version: string, path: string): Promise<{ stream: NodeJS.ReadableStream; size: number }> {
    const { key } = await this.#storageKey(scope, name, version);
    const fileKey = `${key}/${path}`;
    const stat = await this.#blobs.stat(fileKey);
    if (!stat || stat.isDir) throw notFound(`Model ${name}:${version} has no file '${path}'.`);
    return { stream: await this.#blobs.get(fileKey), size: stat.size };
  }

  /** A file of a version as text, or undefined when the version has no such file. */
  async text(scope: Workspace, name: string, version: string, path: string): Promise<string | undefined> {
    const { key } = await this.#storageKey(scope, name, version);
    const stat = await this.#blobs.stat(`${key}/${path}`);
    if (!stat || stat.isDir) return undefined;
    return readText(await this.#blobs.get(`${key}/${path}`));
  }

  async #storageKey(scope: Workspace, name: string, version: string): Promise<{ key: string; uri: string }> {
    const uri = await this.#registry.downloadUri(scope, name, version);
    const proxy = this.#tracking.artifacts.proxyPathOf(uri);
    if (proxy === undefined) throw notFound(`Model ${name}:${version} is stored outside this server (${uri}).`);
    const prefix = ContentStore.prefix(scope.name);
    return { key: proxy ? `${prefix}/${proxy}` : prefix, uri };
  }

  /** Where a model version came from: its run, experiment, logged model, datasets, and shares. */
  async lineage(scope: Workspace, name: string, version: string): Promise<LineageGraph> {
    const mv = await this.#registry.getVersion(scope, name, version);
    const root = `model:${mv.name}:${mv.version}`;
    const registry = scope.name.startsWith('registry/') ? scope.name.slice('registry/'.length) : undefined;
    const ref = registry ? `azureml://registries/${registry}/models/${mv.name}/versions/${mv.version}` : `azureml:${mv.name}:${mv.version}`;
    const nodes = new Map<string, LineageNode>([[root, { id: root, kind: 'model_version', label: `${mv.name}:${mv.version}`, ref }]]);
    const edges: LineageGraph['edges'] = [];
    const add = (node: LineageNode, from: string, kind: string): void => {
      nodes.set(node.id, node);
      edges.push({ from, to: node.id, kind });
    };
    if (mv.lineage && typeof mv.lineage === 'object') {
      const snapshot = mv.lineage as LineageGraph & { shared_from?: { workspace: string; name: string; version: string } };
      for (const n of snapshot.nodes ?? []) if (n.id !== snapshot.root) nodes.set(n.id, n);
      for (const e of snapshot.edges ?? []) edges.push({ ...e, from: e.from === snapshot.root ? root : e.from });
      if (snapshot.shared_from) {
        const id = `shared:${snapshot.shared_from.workspace}:${snapshot.shared_from.name}:${snapshot.shared_from.version}`;
        add({ id, kind: 'model_version', label: `${snapshot.shared_from.workspace}/${snapshot.shared_from.name}:${snapshot.shared_from.version}` }, root, 'shared_from');
      }
      return { root, nodes: [...nodes.values()], edges };
    }
    if (mv.model_id) add({ id: `logged_model:${mv.model_id}`, kind: 'logged_model', label: mv.model_id, ref: `models:/${mv.model_id}` }, root, 'logged_model');
    if (mv.run_id && !scope.name.startsWith('registry/')) {
      const run = await this.#tracking.runs.get(scope, mv.run_id).catch(() => undefined);
      if (run) {
        const runNode = `run:${run.info.run_id}`;
        add({ id: runNode, kind: 'run', label: run.info.run_name, ref: run.info.run_id }, root, 'produced_by');
        const exp = await this.#tracking.experiments.get(scope, run.info.experiment_id).catch(() => undefined);
        if (exp) add({ id: `experiment:${exp.experiment_id}`, kind: 'experiment', label: exp.name, ref: exp.experiment_id }, runNode, 'in_experiment');
        for (const input of run.inputs.dataset_inputs) {
          const d = input.dataset;
          const asset = AZUREML_DATA.exec(sourceUri(d.source)) ?? AZUREML_DATA.exec(d.name);
          const node: LineageNode = asset
            ? { id: `data:${asset[1]}:${asset[2] ?? 'latest'}`, kind: 'data', label: `${asset[1]}:${asset[2] ?? 'latest'}`, ref: `azureml:${asset[1]}:${asset[2] ?? 'latest'}` }
            : { id: `dataset:${d.name}@${d.digest}`, kind: 'dataset', label: d.name, ref: d.source };
          add(node, runNode, 'consumed');
        }
        const tag = (key: string): string | undefined => run.data.tags.find((t) => t.key === key)?.value;
        const env = tag('lapis.environment');
        if (env) add({ id: `environment:${env}`, kind: 'environment', label: env, ref: env }, runNode, 'ran_in');
        const code = tag('lapis.code');
        if (code) add({ id: `code:${code}`, kind: 'code', label: code.slice(0, 12), ref: code }, runNode, 'ran_code');
        // A packaging job (lapis model package) names the version it converted.
        const packaged = packagedFrom(tag('lapis.package.source'));
        if (packaged) add(packaged, root, 'packaged_from');
      }
    }
    return { root, nodes: [...nodes.values()], edges };
  }

  /** Copies a version (files and lineage) into a registry, where every workspace can reference it. */
  async share(ws: Workspace, name: string, version: string, registry: string, shareName: string, shareVersion: string | undefined, userId: string | undefined): Promise<ModelVersionView> {
    const mv = await this.#registry.getVersion(ws, name, version);
    const lineage = await this.lineage(ws, name, version);
    const target = scopeOf(`registry/${registry}`);
    const files = await this.files(ws, name, version);
    if (files.length === 0) throw invalid(`Model ${name}:${version} has no files to share.`);
    const { key } = await this.#storageKey(ws, name, version);
    // Two passes: hash to learn the content address, then copy under it, verified as it streams.
    const manifest: ContentFile[] = [];
    for (const f of files) {
      const h = createHash('sha256');
      for await (const chunk of (await this.#blobs.get(`${key}/${f.path}`)) as AsyncIterable<Buffer>) h.update(chunk);
      manifest.push({ path: f.path, sha256: h.digest('hex'), size: f.size });
    }
    const hash = manifestHash(manifest);
    if (!(await this.#content.find(target.name, hash))) {
      for (const f of manifest) {
        await this.#content.putFile(target.name, hash, f.path, f.sha256, Readable.from((await this.#blobs.get(`${key}/${f.path}`)) as AsyncIterable<Buffer>));
      }
      await this.#content.commit(target.name, hash, manifest);
    }
    await this.#registry.ensureModel(target, shareName, userId);
    return this.#registry.createVersion(target, {
      name: shareName,
      source: `mlflow-artifacts:/${ContentStore.proxyPath(hash)}`,
      tags: mv.tags,
      description: mv.description,
      userId,
      version: shareVersion,
      modelType: mv.model_type ?? 'custom_model',
      lineage: { ...lineage, shared_from: { workspace: ws.name, name, version } },
    });
  }
}

/** The version a packaging job converted (its run's `lapis.package.source`): a workspace's or a registry's. */
function packagedFrom(source: string | undefined): LineageNode | undefined {
  if (!source) return undefined;
  let ref;
  try {
    ref = parseAssetRef(source, 'models');
  } catch {
    return undefined; // a tag set by hand: no edge rather than a broken one
  }
  if (ref.version === undefined) return undefined;
  return ref.registry
    ? { id: `registry_model:${ref.registry}:${ref.name}:${ref.version}`, kind: 'registry_model', label: `${ref.registry}/${ref.name}:${ref.version}`, ref: source }
    : { id: `model:${ref.name}:${ref.version}`, kind: 'model_version', label: `${ref.name}:${ref.version}`, ref: source };
}
