/**
 * Datastores: named places for files that jobs read and write by path, as Azure ML's
 * `azureml://datastores/<name>/paths/<path>`. Every workspace has the default `workspaceblobstore`,
 * kept in the server's artifact store under `<workspace>/datastores/workspaceblobstore/`.
 * (Datastores that point at other storage accounts come with their own credentials, later.)
 */
import type { BlobStore } from '../blobs/index.js';
import { checkKey } from '../blobs/index.js';
import { invalid, notFound } from '../core/errors.js';

export const DEFAULT_DATASTORE = 'workspaceblobstore';
const DATASTORE_URI = /^azureml:\/\/datastores\/([^/]+)\/paths\/(.*)$/;

export interface DatastorePath {
  datastore: string;
  /** Relative path inside the datastore, without leading or trailing `/` ('' for its root). */
  path: string;
}

export interface DatastoreView {
  name: string;
  type: 'artifact_store';
  is_default: boolean;
  description: string;
}

export class DatastoreService {
  readonly #blobs: BlobStore;

  constructor(blobs: BlobStore) {
    this.#blobs = blobs;
  }

  static isUri(uri: string): boolean {
    return uri.startsWith('azureml://datastores/');
  }

  parse(uri: string): DatastorePath {
    const m = DATASTORE_URI.exec(uri);
    if (!m) throw invalid(`'${uri}' is not a datastore path; write azureml://datastores/<datastore>/paths/<path>.`);
    const [, datastore, raw] = m as unknown as [string, string, string];
    this.#check(datastore);
    const path = raw.replace(/^\/+|\/+$/g, '');
    if (path !== '') checkKey(path);
    return { datastore, path };
  }

  list(): DatastoreView[] {
    return [{ name: DEFAULT_DATASTORE, type: 'artifact_store', is_default: true, description: "The workspace's default datastore, in the server's artifact store." }];
  }

  /**
   * The files a path names: those under it when it is a folder, or the file itself — each relative
   * to `folder` (the path, or the file's parent). Empty when nothing is there.
   */
  async files(workspace: string, at: DatastorePath): Promise<{ folder: string; files: { path: string; size: number }[] }> {
    const key = this.#key(workspace, at);
    const stat = await this.#blobs.stat(key);
    if (stat && !stat.isDir) {
      const parts = at.path.split('/');
      return { folder: parts.slice(0, -1).join('/'), files: [{ path: parts[parts.length - 1] as string, size: stat.size }] };
    }
    const out: { path: string; size: number }[] = [];
    for await (const f of this.#blobs.listRecursive(key)) out.push(f);
    return { folder: at.path, files: out.sort((a, b) => (a.path < b.path ? -1 : 1)) };
  }

  async open(workspace: string, at: DatastorePath): Promise<{ stream: NodeJS.ReadableStream; size: number }> {
    const key = this.#key(workspace, at);
    const stat = await this.#blobs.stat(key);
    if (!stat || stat.isDir) throw notFound(`No file azureml://datastores/${at.datastore}/paths/${at.path}.`);
    return { stream: await this.#blobs.get(key), size: stat.size };
  }

  /** Writes files (each opened on demand) under a path; what was there is replaced file by file. */
  async write(workspace: string, at: DatastorePath, files: { path: string }[], open: (path: string) => Promise<NodeJS.ReadableStream>): Promise<void> {
    for (const f of files) await this.#blobs.put(`${this.#key(workspace, at)}/${checkKey(f.path)}`, await open(f.path));
  }

  /** Writes one file at a path (a record file of the data collector, say). */
  async put(workspace: string, at: DatastorePath, body: Buffer): Promise<void> {
    await this.#blobs.put(this.#key(workspace, at), body);
  }

  #check(datastore: string): void {
    if (datastore !== DEFAULT_DATASTORE) {
      throw notFound(`No datastore '${datastore}': this server has the default datastore '${DEFAULT_DATASTORE}' only (other datastores are not supported yet).`);
    }
  }

  #key(workspace: string, at: DatastorePath): string {
    this.#check(at.datastore);
    return `${workspace}/datastores/${at.datastore}${at.path ? `/${at.path}` : ''}`;
  }
}
