import type { LapisClient, Query } from './index.js';
import type { Job } from './jobs.js';
import { filePath, segment } from './paths.js';
import type {
  AssetFileList,
  AssetVersion,
  ContentCommit,
  ContentFile,
  ContentStatus,
  DirectUpload,
  LineageGraph,
  ListAssetsOptions,
  ModelVersion,
  PlainAssetKind,
  RegisteredModel,
  Registry,
  RegistryList,
  ScopeOptions,
  ShareOptions,
} from './types.js';

/**
 * Azure-ML-style assets over the native API: content-addressed uploads, data assets, environments,
 * components, models, lineage and registries. Every call works in the client's workspace, or in a
 * registry when `registry` is given (`?registry=<name>`). Fetch only: the helpers that read and
 * write local files live in `./upload.ts` and `./download.ts`.
 */

const PATHS: Record<PlainAssetKind, string> = { data: 'data', environment: 'environments', component: 'components' };

const scope = (opts: ScopeOptions | undefined): Query => ({ registry: opts?.registry || undefined });

const shareBody = (opts: ShareOptions): Record<string, string> => {
  const body: Record<string, string> = { registry: opts.registry };
  if (opts.shareWithName !== undefined) body.share_with_name = opts.shareWithName;
  if (opts.shareWithVersion !== undefined) body.share_with_version = opts.shareWithVersion;
  return body;
};

/** Content uploads: ask whether a manifest hash is stored, upload its files, commit it. */
export class ContentApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  /** Whether content with this manifest hash is already stored (committed) in the scope. */
  async exists(hash: string, opts: ScopeOptions = {}): Promise<ContentStatus> {
    return this.#c.request('GET', `/api/v1/content/${segment('content hash', hash)}`, { query: scope(opts) });
  }

  /**
   * Uploads one file of an upload. `body` is the raw bytes (a stream goes out chunked); the server
   * hashes it as it arrives and refuses it unless its SHA-256 is `sha256`. Node callers stream from
   * disk with `putFile` in `./upload.ts`.
   */
  async put(hash: string, path: string, sha256: string, body: RequestInit['body'], opts: ScopeOptions & { signal?: AbortSignal } = {}): Promise<{ path: string; size: number }> {
    return this.#c.request('PUT', `/api/v1/content/${segment('content hash', hash)}/files/${filePath(path)}`, {
      query: scope(opts),
      rawBody: body,
      headers: { 'content-type': 'application/octet-stream', 'x-lapis-sha256': sha256 },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /**
   * Completes an upload: the server checks every file is stored with its size, and the list hashes
   * to `hash`. With `direct`, the files are taken from that direct upload's staging folder.
   */
  async commit(hash: string, files: ContentFile[], opts: ScopeOptions & { direct?: string } = {}): Promise<ContentCommit> {
    return this.#c.request('POST', `/api/v1/content/${segment('content hash', hash)}/commit`, { query: scope(opts), body: opts.direct ? { files, direct: opts.direct } : { files } });
  }

  /** Opens a direct upload when the server's store is a local folder and this client runs on its machine. */
  async openDirect(opts: ScopeOptions = {}): Promise<DirectUpload> {
    return this.#c.request('POST', '/api/v1/content/uploads', { query: scope(opts) });
  }

  /** Abandons a direct upload: its staging folder and the copies in it are removed. */
  async discardDirect(id: string, opts: ScopeOptions = {}): Promise<void> {
    await this.#c.request('DELETE', `/api/v1/content/uploads/${segment('upload id', id)}`, { query: scope(opts) });
  }
}

/** Data assets, environments or components: immutable versions of a spec (and uploaded content). */
export class AssetsApi {
  readonly #c: LapisClient;
  readonly kind: PlainAssetKind;
  readonly #base: string;

  constructor(client: LapisClient, kind: PlainAssetKind) {
    this.#c = client;
    this.kind = kind;
    this.#base = `/api/v1/${PATHS[kind]}`;
  }

  #version(name: string, version: string): string {
    return `${this.#base}/${segment(`${this.kind} name`, name)}/versions/${segment(`${this.kind} version`, version)}`;
  }

  /** Creates a version from a validated spec; `content` is the hash of committed uploaded files. Omit `version` for the next one. */
  async create(spec: Record<string, unknown>, opts: ScopeOptions & { content?: string } = {}): Promise<AssetVersion> {
    return this.#c.request('POST', this.#base, { query: scope(opts), body: opts.content ? { spec, content: opts.content } : { spec } });
  }

  /** The latest version of each name, or (with `name`) every version of one, newest first. */
  async list(opts: ListAssetsOptions = {}): Promise<AssetVersion[]> {
    const res = await this.#c.request<Record<string, AssetVersion[]>>('GET', this.#base, {
      query: { ...scope(opts), name: opts.name || undefined, include_archived: opts.includeArchived ? true : undefined },
    });
    return res[PATHS[this.kind]] ?? [];
  }

  /** One version; `latest` is the newest non-archived one. */
  async get(name: string, version = 'latest', opts: ScopeOptions = {}): Promise<AssetVersion> {
    return this.#c.request('GET', this.#version(name, version), { query: scope(opts) });
  }

  /** Hides a version from listings and from `@latest`; an explicit reference still resolves. */
  async archive(name: string, version: string, opts: ScopeOptions = {}): Promise<AssetVersion> {
    return this.#c.request('POST', `${this.#version(name, version)}/archive`, { query: scope(opts) });
  }

  async restore(name: string, version: string, opts: ScopeOptions = {}): Promise<AssetVersion> {
    return this.#c.request('POST', `${this.#version(name, version)}/restore`, { query: scope(opts) });
  }

  /** The uploaded files of a version (none for a version whose path is a URI). */
  async files(name: string, version: string, opts: ScopeOptions = {}): Promise<AssetFileList> {
    return this.#c.request('GET', `${this.#version(name, version)}/files`, { query: scope(opts) });
  }

  /** Opens one file: the body streams its bytes, `content-length` gives its size. */
  async openFile(name: string, version: string, path: string, opts: ScopeOptions & { signal?: AbortSignal } = {}): Promise<Response> {
    return this.#c.send('GET', `${this.#version(name, version)}/files/${filePath(path)}`, { query: scope(opts), ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  /** Copies a workspace version (and its content) into a registry. */
  async share(name: string, version: string, opts: ShareOptions): Promise<AssetVersion> {
    return this.#c.request('POST', `${this.#version(name, version)}/share`, { body: shareBody(opts) });
  }
}

export interface PackageOptions extends ScopeOptions {
  /** `onnx` (the default and, for now, the only target). */
  target?: string;
  /** Default: `<name>-onnx`. */
  outputName?: string;
  outputVersion?: string;
  /** The largest absolute difference allowed between the original and the package on sample data (default 1e-4). */
  tolerance?: number;
}

export interface PackageResult {
  source: string;
  target: 'onnx';
  output_name: string;
  output_version: string | null;
  /** The packaging job: its output is registered as `output_name` when it completes. */
  job: Job;
}

/** Models: created from YAML (uploaded files, or `runs:/…` / `models:/…`), over the MLflow registry. */
export class ModelsApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  #version(name: string, version: string): string {
    return `/api/v1/models/${segment('model name', name)}/versions/${segment('model version', version)}`;
  }

  async create(spec: Record<string, unknown>, opts: ScopeOptions & { content?: string } = {}): Promise<ModelVersion> {
    return this.#c.request('POST', '/api/v1/models', { query: scope(opts), body: opts.content ? { spec, content: opts.content } : { spec } });
  }

  /** Registered models, each with its latest versions. */
  async list(opts: ScopeOptions = {}): Promise<RegisteredModel[]> {
    return (await this.#c.request<{ models: RegisteredModel[] }>('GET', '/api/v1/models', { query: scope(opts) })).models;
  }

  /** Every version of one model, newest first. */
  async versions(name: string, opts: ScopeOptions & { includeArchived?: boolean } = {}): Promise<ModelVersion[]> {
    segment('model name', name);
    const res = await this.#c.request<{ versions: ModelVersion[] }>('GET', '/api/v1/models', {
      query: { ...scope(opts), name, include_archived: opts.includeArchived ? true : undefined },
    });
    return res.versions;
  }

  /** One version; `latest` is the newest non-archived one. */
  async get(name: string, version = 'latest', opts: ScopeOptions = {}): Promise<ModelVersion> {
    return this.#c.request('GET', this.#version(name, version), { query: scope(opts) });
  }

  async archive(name: string, version: string, opts: ScopeOptions = {}): Promise<ModelVersion> {
    return this.#c.request('POST', `${this.#version(name, version)}/archive`, { query: scope(opts) });
  }

  async restore(name: string, version: string, opts: ScopeOptions = {}): Promise<ModelVersion> {
    return this.#c.request('POST', `${this.#version(name, version)}/restore`, { query: scope(opts) });
  }

  async files(name: string, version: string, opts: ScopeOptions = {}): Promise<AssetFileList> {
    return this.#c.request('GET', `${this.#version(name, version)}/files`, { query: scope(opts) });
  }

  async openFile(name: string, version: string, path: string, opts: ScopeOptions & { signal?: AbortSignal } = {}): Promise<Response> {
    return this.#c.send('GET', `${this.#version(name, version)}/files/${filePath(path)}`, { query: scope(opts), ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  /** Where the version came from: run, experiment, datasets, environment, code, shares. */
  async lineage(name: string, version: string, opts: ScopeOptions = {}): Promise<LineageGraph> {
    return this.#c.request('GET', `${this.#version(name, version)}/lineage`, { query: scope(opts) });
  }

  /**
   * Packages a version (a scikit-learn MLflow model → ONNX; `registry` for a registry's version) by a
   * job; the job's output becomes a new version of the workspace once the converted model has been
   * checked against the original. Follow the job's log.
   */
  async package(name: string, version: string, opts: PackageOptions = {}): Promise<PackageResult> {
    const body = { target: opts.target, output_name: opts.outputName, output_version: opts.outputVersion, tolerance: opts.tolerance };
    return this.#c.request('POST', `${this.#version(name, version)}/package`, { query: scope(opts), body: Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) });
  }

  /** Copies a workspace version, its files and its lineage, into a registry. */
  async share(name: string, version: string, opts: ShareOptions): Promise<ModelVersion> {
    return this.#c.request('POST', `${this.#version(name, version)}/share`, { body: shareBody(opts) });
  }
}

/** Registries: scopes shared by every workspace of the server. */
export class RegistriesApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  async create(name: string, opts: { description?: string } = {}): Promise<Registry> {
    return this.#c.request('POST', '/api/v1/registries', { scoped: false, body: opts.description === undefined ? { name } : { name, description: opts.description } });
  }

  async list(): Promise<RegistryList> {
    return this.#c.request('GET', '/api/v1/registries', { scoped: false });
  }
}
