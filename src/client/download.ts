import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { LapisError } from '../core/errors.js';
import { parseDatastoreUri } from './datastores.js';
import type { LapisClient } from './index.js';
import type { ArtifactEntry } from './types.js';

/**
 * Downloads run artifacts and asset files to disk (Node only: the rest of the SDK runs in browsers too). Bytes
 * stream from the socket to a temporary file beside the target, renamed into place once complete,
 * so an interrupted download never leaves a truncated file under the real name.
 */
export interface DownloadProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface DownloadedFile {
  /** Artifact path, relative to the run's artifact root. */
  path: string;
  local_path: string;
  size: number;
}

export interface DownloadResult {
  run_id: string;
  /** The artifact path asked for; '' for the whole run. */
  path: string;
  /** Local file (one artifact file) or folder (a directory or the whole run). */
  local_path: string;
  is_dir: boolean;
  files: DownloadedFile[];
  bytes: number;
}

export interface DownloadOptions {
  /** A file or directory under the run's artifact root; the whole run when absent. */
  path?: string;
  /** Local folder; artifact paths are recreated below it (`<dest>/<path>`). Default: the current folder. */
  dest?: string;
  /** Files downloaded at once (default 4). */
  concurrency?: number;
  onProgress?: (progress: DownloadProgress) => void;
  /** Stops the download; files not yet complete are removed. */
  signal?: AbortSignal;
}

export async function downloadArtifacts(client: LapisClient, runId: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const path = (opts.path ?? '').replace(/^\/+|\/+$/g, '');
  const dest = resolve(opts.dest ?? '.');
  opts.signal?.throwIfAborted();
  const { files, isDir } = await filesToDownload(client, runId, path);
  const planned = files.map((f) => ({ path: f.path, size: f.file_size ?? 0, local: localPath(dest, f.path) }));
  const result: DownloadResult = {
    run_id: runId,
    path,
    local_path: path ? localPath(dest, path) : dest,
    is_dir: isDir,
    files: [],
    bytes: 0,
  };
  const progress: DownloadProgress = { files: 0, totalFiles: planned.length, bytes: 0, totalBytes: planned.reduce((n, f) => n + f.size, 0) };
  opts.onProgress?.({ ...progress });
  if (isDir) await mkdir(result.local_path, { recursive: true });

  const done = await downloadPlanned(planned, (path, signal) => client.runs.openArtifact(runId, path, { signal }), progress, opts);
  result.files = done.files;
  result.bytes = done.bytes;
  return result;
}

type Opener = (path: string, signal: AbortSignal) => Promise<Response>;

/** Downloads planned files, `concurrency` at a time; the first failure stops the rest and is thrown. */
async function downloadPlanned(
  planned: { path: string; size: number; local: string }[],
  open: Opener,
  progress: DownloadProgress,
  opts: { concurrency?: number; onProgress?: (progress: DownloadProgress) => void; signal?: AbortSignal },
): Promise<{ files: DownloadedFile[]; bytes: number }> {
  const files: DownloadedFile[] = [];
  let bytes = 0;
  const controller = new AbortController();
  const stop = (): void => controller.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', stop, { once: true });
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && !controller.signal.aborted && next < planned.length) {
      const file = planned[next++] as (typeof planned)[number];
      try {
        const size = await downloadOne(open, file.path, file.local, controller.signal, (n) => {
          progress.bytes += n;
          opts.onProgress?.({ ...progress });
        });
        progress.files += 1;
        opts.onProgress?.({ ...progress });
        files.push({ path: file.path, local_path: file.local, size });
        bytes += size;
      } catch (err) {
        if (failure === undefined) failure = err;
        controller.abort();
      }
    }
  };
  const workers = Math.max(1, Math.min(opts.concurrency ?? 4, planned.length));
  try {
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    opts.signal?.removeEventListener('abort', stop);
  }
  if (failure !== undefined) throw failure;
  opts.signal?.throwIfAborted();
  files.sort((a, b) => a.path.localeCompare(b.path));
  return { files, bytes };
}

/** A directory's files (recursively), or the one file `path` names. */
async function filesToDownload(client: LapisClient, runId: string, path: string): Promise<{ files: ArtifactEntry[]; isDir: boolean }> {
  const listing = await client.runs.listArtifacts(runId, { path, recursive: true });
  const files = listing.files.filter((f) => !f.is_dir);
  if (files.length > 0 || path === '') return { files, isDir: true };
  const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
  const entry = (await client.runs.listArtifacts(runId, { path: parent })).files.find((f) => f.path === path);
  if (!entry) {
    throw new LapisError('NOT_FOUND', `Run ${runId} has no artifact '${path}'. See what it has with 'lapis run artifacts list ${runId} --recursive'.`, { run_id: runId, path });
  }
  return entry.is_dir ? { files: [], isDir: true } : { files: [entry], isDir: false };
}

/** The local path of an artifact path; refuses one that would land outside `dest`. */
function localPath(dest: string, artifactPath: string, what = 'Artifact path'): string {
  const local = resolve(dest, ...artifactPath.split('/'));
  const rel = relative(dest, local);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new LapisError('INVALID_ARGUMENT', `${what} '${artifactPath}' does not stay inside the destination folder ${dest}.`);
  }
  return local;
}

// ------------------------------------------------------------------ asset files

export type DownloadableKind = 'data' | 'environment' | 'component' | 'model';

export interface AssetDownloadResult {
  kind: DownloadableKind;
  name: string;
  version: string;
  registry?: string;
  /** The folder the files went to: `<dest>/<name>`. */
  local_path: string;
  files: DownloadedFile[];
  bytes: number;
}

export interface AssetDownloadOptions {
  /** Download from this registry instead of the client's workspace. */
  registry?: string;
  /** Local folder; the files land in `<dest>/<name>/`, as `az ml … download` puts them. Default: the current folder. */
  dest?: string;
  concurrency?: number;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
}

/**
 * Downloads the files of a data asset, environment (build context), component (code snapshot) or
 * model version (an explicit version: resolve `latest` first), each streamed to a temporary name
 * and renamed into place once complete.
 */
export async function downloadAssetFiles(client: LapisClient, kind: DownloadableKind, name: string, version: string, opts: AssetDownloadOptions = {}): Promise<AssetDownloadResult> {
  const scope = opts.registry ? { registry: opts.registry } : {};
  const api = kind === 'model' ? client.models : kind === 'data' ? client.data : kind === 'environment' ? client.environments : client.components;
  opts.signal?.throwIfAborted();
  const { files } = await api.files(name, version, scope);
  const folder = localPath(resolve(opts.dest ?? '.'), name, 'Asset name');
  const planned = files.map((f) => ({ path: f.path, size: f.size, local: localPath(folder, f.path, 'File path') }));
  const progress: DownloadProgress = { files: 0, totalFiles: planned.length, bytes: 0, totalBytes: planned.reduce((n, f) => n + f.size, 0) };
  opts.onProgress?.({ ...progress });
  await mkdir(folder, { recursive: true });
  const done = await downloadPlanned(planned, (path, signal) => api.openFile(name, version, path, { ...scope, signal }), progress, opts);
  return { kind, name, version, ...(opts.registry ? { registry: opts.registry } : {}), local_path: folder, files: done.files, bytes: done.bytes };
}

async function downloadOne(open: Opener, path: string, local: string, signal: AbortSignal, onBytes: (n: number) => void): Promise<number> {
  const res = await open(path, signal);
  const header = res.headers.get('content-length');
  const expected = header === null ? undefined : Number(header);
  await mkdir(dirname(local), { recursive: true });
  const tmp = `${local}.${randomBytes(4).toString('hex')}.part`;
  let written = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      written += chunk.length;
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  try {
    const body = res.body ? Readable.fromWeb(res.body as unknown as NodeReadableStream) : Readable.from([]);
    await pipeline(body, counter, createWriteStream(tmp), { signal });
    if (expected !== undefined && written !== expected) {
      throw new LapisError('UNAVAILABLE', `Download of '${path}' was cut short: received ${written} of ${expected} bytes. Try again.`, { path, received: written, expected });
    }
    await rename(tmp, local);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return written;
}

// ------------------------------------------------------------------ job outputs

/**
 * Downloads the outputs of a job (or one of them) into `<dest>/<job>/<output>/`, as
 * `az ml job download` lays them out.
 */
export async function downloadJobOutputs(
  client: LapisClient,
  job: string,
  opts: { dest?: string; output?: string; concurrency?: number; onProgress?: (p: DownloadProgress) => void; signal?: AbortSignal } = {},
): Promise<{ local_path: string; files: DownloadedFile[]; bytes: number }> {
  const info = await client.jobs.get(job);
  const names = opts.output !== undefined ? [opts.output] : Object.keys(info.outputs);
  if (opts.output !== undefined && !(opts.output in info.outputs)) {
    throw new LapisError('NOT_FOUND', `Job '${job}' has no output '${opts.output}'${names.length ? ` (outputs: ${Object.keys(info.outputs).join(', ')})` : ''}.`);
  }
  const root = localPath(resolve(opts.dest ?? '.'), job, 'Job name');
  const planned: { path: string; size: number; local: string; output: string; file: string }[] = [];
  for (const name of names) {
    const { files } = await client.jobs.outputFiles(job, name);
    const folder = localPath(root, name, 'Output name');
    for (const f of files) planned.push({ path: `${name}/${f.path}`, size: f.size, local: localPath(folder, f.path, 'File path'), output: name, file: f.path });
  }
  const progress: DownloadProgress = { files: 0, totalFiles: planned.length, bytes: 0, totalBytes: planned.reduce((n, f) => n + f.size, 0) };
  opts.onProgress?.({ ...progress });
  await mkdir(root, { recursive: true });
  const byPath = new Map(planned.map((p) => [p.path, p]));
  const done = await downloadPlanned(planned, (path, signal) => {
    const p = byPath.get(path) as { output: string; file: string };
    return client.jobs.openOutputFile(job, p.output, p.file, { signal });
  }, progress, opts);
  return { local_path: root, files: done.files, bytes: done.bytes };
}

// ------------------------------------------------------------------ datastore paths

export interface DatastoreDownloadResult {
  uri: string;
  /** The folder the files went to: `<dest>/<last segment of the path>`, or `dest` for a file. */
  local_path: string;
  files: DownloadedFile[];
  bytes: number;
}

/** Downloads the files under a datastore path (or the one file it names), keeping their layout. */
export async function downloadDatastorePath(client: LapisClient, uri: string, opts: Omit<AssetDownloadOptions, 'registry'> = {}): Promise<DatastoreDownloadResult> {
  const at = parseDatastoreUri(uri);
  opts.signal?.throwIfAborted();
  const { folder, files } = await client.datastores.files(at);
  if (files.length === 0) throw new LapisError('NOT_FOUND', `Nothing is stored at ${uri}.`);
  const dest = resolve(opts.dest ?? '.');
  const base = folder === at.path && folder !== '' ? localPath(dest, folder.split('/').pop() as string, 'Folder name') : dest;
  const planned = files.map((f) => ({ path: f.path, size: f.size, local: localPath(base, f.path, 'File path') }));
  const progress: DownloadProgress = { files: 0, totalFiles: planned.length, bytes: 0, totalBytes: planned.reduce((n, f) => n + f.size, 0) };
  opts.onProgress?.({ ...progress });
  await mkdir(base, { recursive: true });
  const open = (path: string, signal: AbortSignal) => client.datastores.openFile({ datastore: at.datastore, path: folder ? `${folder}/${path}` : path }, { signal });
  const done = await downloadPlanned(planned, open, progress, opts);
  return { uri, local_path: base, files: done.files, bytes: done.bytes };
}
