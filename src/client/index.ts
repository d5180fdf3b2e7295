import { codeFromMlflow, isErrorCode, LapisError, type ErrorCode } from '../core/errors.js';
import { AssetsApi, ContentApi, ModelsApi, RegistriesApi } from './assets.js';
import { ComputesApi, JobsApi } from './jobs.js';
import { OnlineEndpointsApi } from './serving.js';
import { BatchEndpointsApi } from './batch.js';
import { DatastoresApi } from './datastores.js';
import { segment } from './paths.js';
import type {
  ArtifactListing,
  AssetVersion,
  PlainAssetKind,
  AuditList,
  CreateTokenOptions,
  CreateUserOptions,
  Experiment,
  ExperimentPage,
  ListArtifactsOptions,
  ListAuditOptions,
  MetricHistory,
  NewServicePrincipal,
  NewToken,
  PrincipalList,
  PrincipalSummary,
  RoleAssignmentChange,
  RoleAssignmentList,
  RoleDefinition,
  RoleList,
  RoleSpec,
  Run,
  RunPage,
  SearchExperimentsOptions,
  SearchRunsOptions,
  TokenList,
  VersionInfo,
  WhoAmI,
  Workspace,
  WorkspaceDeletion,
  WorkspaceList,
} from './types.js';

export type * from './types.js';
export { LapisError } from '../core/errors.js';
export { AssetsApi, ContentApi, ModelsApi, RegistriesApi } from './assets.js';
export type { PackageOptions, PackageResult } from './assets.js';
export { ComputesApi, JobsApi, predictionsText, progressText, TERMINAL_JOB_STATUSES } from './jobs.js';
export { plural } from './text.js';
export type { ComputeTarget, Job, JobEvent, JobLogEntry, JobOutput, JobStatus } from './jobs.js';
export { OnlineEndpointsApi } from './serving.js';
export { BatchEndpointsApi } from './batch.js';
export { DatastoresApi, parseDatastoreUri, type Datastore, type DatastoreLocation } from './datastores.js';
export type { BatchDeployment, BatchEndpoint, BatchInputType, BatchInvocation, BatchSettings } from './batch.js';
export type { EndpointKeys, OnlineDeployment, OnlineEndpoint } from './serving.js';

/**
 * The typed TypeScript SDK of the native Lapis API (`/api/v1`). It uses nothing but `fetch`, so the
 * CLI and the web studio share it; the streaming download helper that needs a file system lives
 * apart, in `./download.ts`.
 */
export interface LapisClientOptions {
  /** The server, e.g. `http://127.0.0.1:5050` (a path prefix behind a proxy is kept). */
  url: string;
  /** Workspace of every workspace-scoped call; the server's `default` workspace when absent. */
  workspace?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** A fetch implementation (tests, custom agents); the global one by default. */
  fetch?: typeof fetch;
}

type QueryValue = string | number | boolean | string[] | undefined;
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (bytes or a stream) instead of a JSON body; streams go out chunked. */
  rawBody?: RequestInit['body'];
  /** Extra request headers, e.g. `content-type` of a raw body. */
  headers?: Record<string, string>;
  /** Prefix the path with `/workspaces/<workspace>` (default true). */
  scoped?: boolean;
  signal?: AbortSignal;
}

export class LapisClient {
  /** The server URL, without a trailing slash. */
  readonly url: string;
  readonly workspace: string | undefined;
  readonly workspaces: WorkspacesApi;
  readonly experiments: ExperimentsApi;
  readonly runs: RunsApi;
  readonly auth: AuthApi;
  readonly tokens: TokensApi;
  readonly users: UsersApi;
  readonly servicePrincipals: ServicePrincipalsApi;
  readonly roles: RolesApi;
  readonly roleAssignments: RoleAssignmentsApi;
  readonly audit: AuditApi;
  /** Content-addressed uploads (the Node helper in `./upload.ts` streams files from disk). */
  readonly content: ContentApi;
  readonly data: AssetsApi;
  readonly environments: AssetsApi;
  readonly components: AssetsApi;
  readonly models: ModelsApi;
  readonly registries: RegistriesApi;
  readonly jobs: JobsApi;
  readonly computes: ComputesApi;
  readonly onlineEndpoints: OnlineEndpointsApi;
  readonly batchEndpoints: BatchEndpointsApi;
  readonly datastores: DatastoresApi;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch | undefined;

  constructor(opts: LapisClientOptions) {
    this.url = normalizeUrl(opts.url);
    this.workspace = opts.workspace === '' ? undefined : opts.workspace;
    this.#token = opts.token === '' ? undefined : opts.token;
    this.#fetch = opts.fetch;
    this.workspaces = new WorkspacesApi(this);
    this.experiments = new ExperimentsApi(this);
    this.runs = new RunsApi(this);
    this.auth = new AuthApi(this);
    this.tokens = new TokensApi(this);
    this.users = new UsersApi(this);
    this.servicePrincipals = new ServicePrincipalsApi(this);
    this.roles = new RolesApi(this);
    this.roleAssignments = new RoleAssignmentsApi(this);
    this.audit = new AuditApi(this);
    this.content = new ContentApi(this);
    this.data = new AssetsApi(this, 'data');
    this.environments = new AssetsApi(this, 'environment');
    this.components = new AssetsApi(this, 'component');
    this.models = new ModelsApi(this);
    this.registries = new RegistriesApi(this);
    this.jobs = new JobsApi(this);
    this.computes = new ComputesApi(this);
    this.onlineEndpoints = new OnlineEndpointsApi(this);
    this.batchEndpoints = new BatchEndpointsApi(this);
    this.datastores = new DatastoresApi(this);
  }

  /** Whether requests carry a token. */
  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** The same server and workspace, another token (none when undefined). */
  withToken(token: string | undefined): LapisClient {
    return new LapisClient({
      url: this.url,
      ...(this.workspace !== undefined ? { workspace: this.workspace } : {}),
      ...(token ? { token } : {}),
      ...(this.#fetch ? { fetch: this.#fetch } : {}),
    });
  }

  /** The same server and credentials, another workspace. */
  withWorkspace(workspace: string): LapisClient {
    return new LapisClient({ url: this.url, workspace, ...(this.#token ? { token: this.#token } : {}), ...(this.#fetch ? { fetch: this.#fetch } : {}) });
  }

  /**
   * Resolves any reference to a data asset, environment or component (`azureml:n:v`, `n@latest`,
   * `azureml:n@latest`, `azureml://registries/<r>/<kind>/<n>/versions/<v>`) to its version.
   */
  async resolve(kind: PlainAssetKind, ref: string): Promise<AssetVersion> {
    return this.request('GET', '/api/v1/resolve', { query: { kind, ref } });
  }

  async version(): Promise<VersionInfo> {
    return this.request<VersionInfo>('GET', '/api/v1/version', { scoped: false });
  }

  /** Absolute URL of an API path; workspace-scoped paths carry the `/workspaces/<name>` prefix. */
  endpoint(path: string, query?: Query, scoped = true): string {
    const prefix = scoped && this.workspace !== undefined ? `/workspaces/${encodeURIComponent(this.workspace)}` : '';
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) search.append(key, String(v));
    }
    const qs = search.toString();
    return `${this.url}${prefix}${path}${qs ? `?${qs}` : ''}`;
  }

  /** Sends a request and decodes the JSON answer; a non-2xx answer becomes the server's LapisError. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    return (await res.json()) as T;
  }

  /** The headers of every request: `accept` and, with a token, `authorization`. */
  baseHeaders(): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    return headers;
  }

  /** Sends a request and returns the response (body unread) when it succeeded. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = this.endpoint(path, opts.query, opts.scoped ?? true);
    const headers = this.baseHeaders();
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, opts.headers);
    const doFetch = this.#fetch ?? globalThis.fetch;
    let res: Response;
    try {
      res = await doFetch(url, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        // A stream body needs half-duplex mode in Node's fetch.
        ...(opts.rawBody !== undefined && opts.body === undefined ? { body: opts.rawBody, duplex: 'half' } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      } as RequestInit);
    } catch (err) {
      if (err instanceof Error && err.name === 'AbortError') throw err;
      throw unreachable(this.url, err);
    }
    if (!res.ok) throw await errorFrom(res, method, url);
    return res;
  }
}

export class WorkspacesApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  /** Workspaces are server-wide: these calls never carry the client's workspace. */
  async list(): Promise<WorkspaceList> {
    return this.#c.request('GET', '/api/v1/workspaces', { scoped: false });
  }

  async get(name: string): Promise<Workspace> {
    return this.#c.request('GET', `/api/v1/workspaces/${segment('workspace name', name)}`, { scoped: false });
  }

  async create(name: string, opts: { description?: string } = {}): Promise<Workspace> {
    const body = opts.description === undefined ? { name } : { name, description: opts.description };
    return this.#c.request('POST', '/api/v1/workspaces', { scoped: false, body });
  }

  /**
   * Deletes a workspace. The server refuses (CONFLICT, with the counts as `details`) while it
   * holds experiments, runs or models, unless `force` is set: then everything in it goes too.
   */
  async delete(name: string, opts: { force?: boolean } = {}): Promise<WorkspaceDeletion> {
    return this.#c.request('DELETE', `/api/v1/workspaces/${segment('workspace name', name)}`, { scoped: false, query: { force: opts.force ? true : undefined } });
  }
}

/** Identity: password login and "who am I". Server-wide. */
export class AuthApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  /** Exchanges a user name and password for a new API token (default lifetime 30 days). */
  async login(username: string, password: string, opts: { expires?: string } = {}): Promise<NewToken> {
    const body = opts.expires === undefined ? { username, password } : { username, password, expires: opts.expires };
    return this.#c.request('POST', '/api/v1/auth/login', { scoped: false, body });
  }

  async whoami(): Promise<WhoAmI> {
    return this.#c.request('GET', '/api/v1/auth/whoami', { scoped: false });
  }
}

/** API tokens: the caller's own, or (server admins) anyone's. Server-wide. */
export class TokensApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  /** The caller's tokens; with `all`, every token of the server (admins only). */
  async list(opts: { all?: boolean } = {}): Promise<TokenList> {
    return this.#c.request('GET', '/api/v1/tokens', { scoped: false, query: { all: opts.all ? true : undefined } });
  }

  /** The answer carries the secret `token`, the only time it is ever sent. */
  async create(opts: CreateTokenOptions = {}): Promise<NewToken> {
    const body: Record<string, string> = {};
    if (opts.name !== undefined) body.name = opts.name;
    if (opts.expires !== undefined) body.expires = opts.expires;
    if (opts.principal !== undefined) body.principal = opts.principal;
    return this.#c.request('POST', '/api/v1/tokens', { scoped: false, body });
  }

  async revoke(id: string): Promise<void> {
    await this.#c.request('DELETE', `/api/v1/tokens/${segment('token id', id)}`, { scoped: false });
  }
}

/** Users (and, in `list`, service principals). Server admins only. */
export class UsersApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  /** Users and service principals. */
  async list(): Promise<PrincipalList> {
    return this.#c.request('GET', '/api/v1/users', { scoped: false });
  }

  async create(name: string, opts: CreateUserOptions = {}): Promise<PrincipalSummary> {
    const body: Record<string, unknown> = { name };
    if (opts.password !== undefined) body.password = opts.password;
    if (opts.admin !== undefined) body.admin = opts.admin;
    if (opts.displayName !== undefined) body.display_name = opts.displayName;
    return this.#c.request('POST', '/api/v1/users', { scoped: false, body });
  }

  /** Disables a user or service principal: its password and tokens stop working. */
  async disable(name: string): Promise<void> {
    await this.#c.request('POST', `/api/v1/users/${segment('user name', name)}/disable`, { scoped: false });
  }

  async enable(name: string): Promise<void> {
    await this.#c.request('POST', `/api/v1/users/${segment('user name', name)}/enable`, { scoped: false });
  }
}

/** Service principals: identities for CI and automation, which authenticate with tokens only. */
export class ServicePrincipalsApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  /** Creates the principal and its first token (`expires`: e.g. `90d`; never when absent). */
  async create(name: string, opts: { displayName?: string; expires?: string } = {}): Promise<NewServicePrincipal> {
    const body: Record<string, string> = { name };
    if (opts.displayName !== undefined) body.display_name = opts.displayName;
    if (opts.expires !== undefined) body.expires = opts.expires;
    return this.#c.request('POST', '/api/v1/service-principals', { scoped: false, body });
  }
}

/** Role definitions: built-in and custom. Server-wide. */
export class RolesApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  async list(): Promise<RoleList> {
    return this.#c.request('GET', '/api/v1/roles', { scoped: false });
  }

  /** Defines a custom role (server admins only). */
  async define(spec: RoleSpec): Promise<RoleDefinition> {
    const body: Record<string, unknown> = { name: spec.name, actions: spec.actions };
    if (spec.description !== undefined) body.description = spec.description;
    if (spec.not_actions !== undefined) body.not_actions = spec.not_actions;
    return this.#c.request('POST', '/api/v1/roles', { scoped: false, body });
  }
}

/** Who holds which role in the client's workspace. */
export class RoleAssignmentsApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  async list(): Promise<RoleAssignmentList> {
    return this.#c.request('GET', '/api/v1/role-assignments');
  }

  /** Gives a user or service principal a role in the workspace (a no-op when it already holds it). */
  async assign(principal: string, role: string): Promise<RoleAssignmentChange> {
    return this.#c.request('POST', '/api/v1/role-assignments', { body: { principal, role } });
  }

  async remove(principal: string, role: string): Promise<void> {
    await this.#c.request('DELETE', '/api/v1/role-assignments', { query: { principal, role } });
  }
}

/** The audit log of the client's workspace (or, with `all`, of the server). */
export class AuditApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  /** Newest first. */
  async list(opts: ListAuditOptions = {}): Promise<AuditList> {
    return this.#c.request('GET', '/api/v1/audit', {
      query: { since: opts.since, principal: opts.principal, action: opts.action, limit: opts.limit, all: opts.all ? true : undefined },
    });
  }
}

export class ExperimentsApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  async search(opts: SearchExperimentsOptions = {}): Promise<ExperimentPage> {
    return this.#c.request('GET', '/api/v1/experiments', {
      query: { filter: opts.filter, order_by: opts.orderBy, view: opts.view, max_results: opts.maxResults, page_token: opts.pageToken },
    });
  }

  /** Every matching experiment, page after page (`maxResults` is the page size). */
  async *searchAll(opts: SearchExperimentsOptions = {}): AsyncGenerator<Experiment> {
    let pageToken = opts.pageToken;
    do {
      const page = await this.search({ ...opts, pageToken });
      yield* page.experiments;
      pageToken = page.next_page_token ?? undefined;
    } while (pageToken);
  }

  /** By id (all digits) or by name. */
  async get(idOrName: string): Promise<Experiment> {
    return this.#c.request('GET', `/api/v1/experiments/${segment('experiment id or name', idOrName)}`);
  }
}

export class RunsApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  async search(opts: SearchRunsOptions = {}): Promise<RunPage> {
    const body: Record<string, unknown> = {};
    if (opts.experiments !== undefined) body.experiments = opts.experiments;
    if (opts.filter !== undefined) body.filter = opts.filter;
    if (opts.orderBy !== undefined) body.order_by = opts.orderBy;
    if (opts.view !== undefined) body.view = opts.view;
    if (opts.maxResults !== undefined) body.max_results = opts.maxResults;
    if (opts.pageToken !== undefined) body.page_token = opts.pageToken;
    if (opts.offset !== undefined) body.offset = opts.offset;
    if (opts.includeTotal) body.include_total = true;
    return this.#c.request('POST', '/api/v1/runs/search', { body, ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  /** Every matching run, page after page (`maxResults` is the page size). */
  async *searchAll(opts: SearchRunsOptions = {}): AsyncGenerator<Run> {
    let pageToken = opts.pageToken;
    do {
      const page = await this.search({ ...opts, pageToken });
      yield* page.runs;
      pageToken = page.next_page_token ?? undefined;
    } while (pageToken);
  }

  async get(runId: string): Promise<Run> {
    return this.#c.request('GET', `/api/v1/runs/${segment('run id', runId)}`);
  }

  /** The whole history, or with `maxPoints` a chart's worth: each step bucket keeps its min and max. */
  async metricHistory(runId: string, key: string, opts: { maxPoints?: number; signal?: AbortSignal } = {}): Promise<MetricHistory> {
    return this.#c.request('GET', `/api/v1/runs/${segment('run id', runId)}/metrics/${segment('metric key', key)}/history`, {
      query: { max_points: opts.maxPoints },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  async listArtifacts(runId: string, opts: ListArtifactsOptions = {}): Promise<ArtifactListing> {
    const path = opts.path === undefined ? undefined : trimSlashes(opts.path);
    return this.#c.request('GET', `/api/v1/runs/${segment('run id', runId)}/artifacts`, {
      query: { path: path || undefined, recursive: opts.recursive ? true : undefined },
    });
  }

  /** Where one artifact file is served (workspace included), e.g. for a link in the studio. */
  artifactUrl(runId: string, path: string): string {
    return this.#c.endpoint(`/api/v1/runs/${segment('run id', runId)}/artifacts/${artifactPath(path)}`);
  }

  /** Opens one artifact file: the response body streams its bytes, `content-length` gives its size. */
  async openArtifact(runId: string, path: string, opts: { signal?: AbortSignal } = {}): Promise<Response> {
    return this.#c.send('GET', `/api/v1/runs/${segment('run id', runId)}/artifacts/${artifactPath(path)}`, opts.signal ? { signal: opts.signal } : {});
  }
}

function normalizeUrl(raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new LapisError('INVALID_ARGUMENT', `Invalid server URL '${raw}': use an http(s) URL such as http://127.0.0.1:5050.`);
  }
  url.search = '';
  url.hash = '';
  return url.href.replace(/\/+$/, '');
}

const trimSlashes = (path: string): string => path.replace(/^\/+|\/+$/g, '');

function artifactPath(path: string): string {
  const trimmed = trimSlashes(path);
  if (trimmed === '') throw new LapisError('INVALID_ARGUMENT', 'Missing artifact path: name a file under the run\'s artifact root, e.g. model/MLmodel.');
  return trimmed.split('/').map(encodeURIComponent).join('/');
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RESOURCE_EXHAUSTED',
  501: 'NOT_IMPLEMENTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'UNAVAILABLE',
};

const codeForStatus = (status: number): ErrorCode => STATUS_CODES[status] ?? (status < 500 ? 'BAD_REQUEST' : 'INTERNAL');

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Rebuilds the server's error: `{ error: { code, message, details } }` (or MLflow's shape, or whatever a proxy sent). */
export async function errorFrom(res: Response, method: string, url: string): Promise<LapisError> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isRecord(body)) {
    const e = body.error;
    if (isRecord(e) && typeof e.message === 'string') {
      return new LapisError(isErrorCode(e.code) ? e.code : codeForStatus(res.status), e.message, isRecord(e.details) ? e.details : undefined);
    }
    if (typeof body.error_code === 'string' && typeof body.message === 'string') return new LapisError(codeFromMlflow(body.error_code), body.message);
  }
  const snippet = text.trim().replace(/\s+/g, ' ').slice(0, 200);
  return new LapisError(
    codeForStatus(res.status),
    `${method} ${url} failed with HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${snippet ? `: ${snippet}` : ''}`,
    { status: res.status },
  );
}

/** fetch rejects only when no HTTP answer came back: the server is down, unknown or unreachable. */
export function unreachable(url: string, err: unknown): LapisError {
  const cause = (err as { cause?: { code?: unknown; message?: unknown; errors?: { code?: unknown }[] } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : typeof cause?.errors?.[0]?.code === 'string' ? cause.errors[0].code : undefined;
  const reason =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND'
        ? 'unknown host'
        : (code ?? (typeof cause?.message === 'string' ? cause.message : err instanceof Error ? err.message : String(err)));
  return new LapisError(
    'UNAVAILABLE',
    `Cannot reach the Lapis server at ${url} (${reason}). Start one with 'lapis server', or point to a running server with --server <url> or LAPIS_URL.`,
    { url },
  );
}
