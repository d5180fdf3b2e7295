import { codeFromMlflow, isErrorCode, LapisError, type ErrorCode } from '../core/errors.js';
import type {
  ArtifactListing,
  Experiment,
  ExperimentPage,
  ListArtifactsOptions,
  MetricHistory,
  Run,
  RunPage,
  SearchExperimentsOptions,
  SearchRunsOptions,
  VersionInfo,
  Workspace,
  WorkspaceList,
} from './types.js';

export type * from './types.js';
export { LapisError } from '../core/errors.js';

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
  }

  /** The same server and credentials, another workspace. */
  withWorkspace(workspace: string): LapisClient {
    return new LapisClient({ url: this.url, workspace, ...(this.#token ? { token: this.#token } : {}), ...(this.#fetch ? { fetch: this.#fetch } : {}) });
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

  /** Sends a request and returns the response (body unread) when it succeeded. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = this.endpoint(path, opts.query, opts.scoped ?? true);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const doFetch = this.#fetch ?? globalThis.fetch;
    let res: Response;
    try {
      res = await doFetch(url, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
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
    return this.#c.request('POST', '/api/v1/runs/search', { body });
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

  async metricHistory(runId: string, key: string): Promise<MetricHistory> {
    return this.#c.request('GET', `/api/v1/runs/${segment('run id', runId)}/metrics/${segment('metric key', key)}/history`);
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

function segment(what: string, value: string): string {
  if (typeof value !== 'string' || value === '') throw new LapisError('INVALID_ARGUMENT', `Missing ${what}: pass a non-empty string.`);
  return encodeURIComponent(value);
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
async function errorFrom(res: Response, method: string, url: string): Promise<LapisError> {
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
function unreachable(url: string, err: unknown): LapisError {
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
