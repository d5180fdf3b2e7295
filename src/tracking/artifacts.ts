import { lookup } from './mime.js';
import { invalid } from '../core/errors.js';
import { checkKey, type BlobEntry, type BlobStore } from '../blobs/index.js';
import type { Workspace } from '../workspaces/service.js';

const PROXY_SCHEME = 'mlflow-artifacts:';

/**
 * Artifacts live in the blob store under `<workspace>/<path>`, where `<path>` is what follows
 * `mlflow-artifacts:/` in the URIs handed to clients. The workspace prefix is what keeps one
 * workspace's proxy from ever reaching another's files.
 */
export class ArtifactService {
  readonly #blobs: BlobStore;

  constructor(blobs: BlobStore) {
    this.#blobs = blobs;
  }

  get blobs(): BlobStore {
    return this.#blobs;
  }

  /** Blob key of a proxy path (the part after /mlflow-artifacts/artifacts/). */
  keyOf(ws: Workspace, proxyPath: string): string {
    const rel = proxyPath.replace(/^\/+/, '');
    if (rel === '') return ws.name;
    return `${ws.name}/${checkKey(rel)}`;
  }

  /** Proxy path of an artifact URI the server handed out, or undefined for a foreign URI. */
  proxyPathOf(uri: string): string | undefined {
    if (!uri.startsWith(PROXY_SCHEME)) return undefined;
    // mlflow-artifacts:/p, mlflow-artifacts:///p and mlflow-artifacts://host:port/p all name p.
    return uri.slice(PROXY_SCHEME.length).replace(/^\/\/[^/]*/, '').replace(/^\/+/, '');
  }

  /** Lists a directory under an artifact root, returning paths relative to that root (MLflow's `artifacts/list`). */
  async listUnder(ws: Workspace, rootUri: string, path: string | undefined): Promise<{ path: string; is_dir: boolean; file_size?: number }[]> {
    const root = this.proxyPathOf(rootUri);
    if (root === undefined) return [];
    const rel = path ? checkKey(path.replace(/^\/+|\/+$/g, '')) : '';
    const dir = rel ? `${root}/${rel}` : root;
    const entries = await this.#blobs.list(this.keyOf(ws, dir));
    return entries.map((e: BlobEntry) => ({
      path: rel ? `${rel}/${e.path}` : e.path,
      is_dir: e.isDir,
      ...(e.isDir ? {} : { file_size: e.size ?? 0 }),
    }));
  }

  /** Removes every artifact under a root the server handed out (used when a logged upload fails). */
  async deleteUnder(ws: Workspace, rootUri: string): Promise<void> {
    const root = this.proxyPathOf(rootUri);
    if (root === undefined) throw invalid(`Artifact URI '${rootUri}' is not served by this server.`);
    await this.#blobs.delete(this.keyOf(ws, root));
  }
}

export const contentTypeOf = (path: string): string => lookup(path);
