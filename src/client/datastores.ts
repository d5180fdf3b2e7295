import type { LapisClient } from './index.js';
import { filePath, segment } from './paths.js';
import { LapisError } from '../core/errors.js';

export interface Datastore {
  name: string;
  type: string;
  is_default: boolean;
  description: string;
}

/** A place in a datastore, as `azureml://datastores/<datastore>/paths/<path>` names it. */
export interface DatastoreLocation {
  datastore: string;
  path: string;
}

const URI = /^azureml:\/\/datastores\/([^/]+)\/paths\/(.*)$/;

export function parseDatastoreUri(uri: string): DatastoreLocation {
  const m = URI.exec(uri);
  if (!m) throw new LapisError('INVALID_ARGUMENT', `'${uri}' is not a datastore path: write azureml://datastores/<datastore>/paths/<path>, e.g. azureml://datastores/workspaceblobstore/paths/modelDataCollector/.`);
  return { datastore: m[1] as string, path: (m[2] as string).replace(/^\/+|\/+$/g, '') };
}

/** Datastores and the files under their paths (job outputs written there, collected scoring data). */
export class DatastoresApi {
  readonly #c: LapisClient;

  constructor(client: LapisClient) {
    this.#c = client;
  }

  async list(): Promise<Datastore[]> {
    return (await this.#c.request<{ datastores: Datastore[] }>('GET', '/api/v1/datastores')).datastores;
  }

  /** The files under a path (or the file itself), relative to `folder`. */
  async files(at: DatastoreLocation): Promise<{ folder: string; files: { path: string; size: number }[] }> {
    return this.#c.request('GET', `/api/v1/datastores/${segment('datastore', at.datastore)}/files`, { query: { path: at.path || undefined } });
  }

  async openFile(at: DatastoreLocation, opts: { signal?: AbortSignal } = {}): Promise<Response> {
    return this.#c.send('GET', `/api/v1/datastores/${segment('datastore', at.datastore)}/files/${filePath(at.path)}`, opts.signal ? { signal: opts.signal } : {});
  }
}
