import { createHash } from 'node:crypto';
import { constants, createReadStream, type BigIntStats } from 'node:fs';
import { access, copyFile, mkdir, readdir, readFile, realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { basename, dirname, join } from 'node:path';
import { LapisError } from '../core/errors.js';
import { fsyncPath } from '../blobs/fsync.js';
import { pool } from '../core/pool.js';
import { escapeRegex, globBody } from '../core/glob.js';
import { HashCache } from './hash-cache.js';
import { hashFiles, WORKERS_FROM_BYTES, type FileHash } from './hashing.js';
import { errorFrom, unreachable, type LapisClient } from './index.js';
import { filePath, segment } from './paths.js';
import type { ContentFile } from './types.js';

/**
 * Uploads a local file or folder as content-addressed content (Node only: the rest of the SDK runs
 * in browsers too). Files are hashed as they stream from disk, never held in memory; the manifest
 * hash names the upload, so content the server already holds is never sent again. To a server on
 * this machine whose store is a local folder, files are copied straight into the store (a direct
 * upload); to any other, they are streamed over HTTP.
 *
 * Folders honour `.amlignore`, or else `.gitignore`, in each directory (gitignore patterns: `*`,
 * `?`, `[a-z]`, `**`, a trailing `/` for directories, a leading `!` to re-include); `.git` folders
 * are always left out.
 */

// ------------------------------------------------------------------ ignore files

interface Rule {
  regex: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

/**
 * The rules of one ignore file. `base` is the folder holding it, relative to the upload root
 * (`''` for the root, else `sub/dir`); its patterns apply below that folder only.
 */
export function parseIgnore(text: string, base = ''): Rule[] {
  const prefix = base ? `${escapeRegex(base)}/` : '';
  const rules: Rule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.replace(/(?<!\\)\s+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\!') || line.startsWith('\\#')) {
      line = line.slice(1);
    }
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.replace(/\/+$/, '');
    if (line === '') continue;
    // A slash anywhere but at the end anchors the pattern to the ignore file's folder.
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    const body = globBody(line);
    rules.push({ regex: new RegExp(`^${prefix}${anchored ? '' : '(?:.*/)?'}${body}$`), negate, dirOnly });
  }
  return rules;
}

/** Whether the last rule matching `path` ignores it (rules in file order, outer files first). */
export function isIgnored(rules: readonly Rule[], path: string, isDir: boolean): boolean {
  let ignored = false;
  for (const rule of rules) {
    if (rule.dirOnly && !isDir) continue;
    if (rule.regex.test(path)) ignored = !rule.negate;
  }
  return ignored;
}

const IGNORE_FILES = ['.amlignore', '.gitignore'] as const;

async function readIgnore(dir: string): Promise<string | undefined> {
  for (const name of IGNORE_FILES) {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
    }
  }
  return undefined;
}

// ------------------------------------------------------------------ walking and hashing

export interface LocalFile {
  /** `/`-separated path inside the upload (the file's name for a single-file upload). */
  path: string;
  /** Absolute path on disk. */
  local: string;
  size: number;
}

/**
 * The files of a local file or folder, sorted by path; ignore files honoured, `.git` skipped,
 * symbolic links followed (a link back up the tree is skipped, not followed forever).
 */
export async function listLocalFiles(root: string): Promise<LocalFile[]> {
  const top = await stat(root);
  if (top.isFile()) return [{ path: basename(root), local: root, size: top.size }];
  if (!top.isDirectory()) throw new LapisError('INVALID_ARGUMENT', `${root} is neither a file nor a folder.`);
  const out: LocalFile[] = [];
  const seen = new Set<string>([await realpath(root)]);
  const walk = async (dir: string, rel: string, inherited: Rule[]): Promise<void> => {
    const text = await readIgnore(dir);
    const rules = text === undefined ? inherited : [...inherited, ...parseIgnore(text, rel)];
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const local = join(dir, entry.name);
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const target = await stat(local).catch(() => undefined);
        if (!target) continue; // a dangling link
        isDir = target.isDirectory();
        isFile = target.isFile();
      }
      if (isDir) {
        if (entry.name === '.git' || isIgnored(rules, path, true)) continue;
        const real = await realpath(local);
        if (seen.has(real)) continue;
        seen.add(real);
        await walk(local, path, rules);
        seen.delete(real);
      } else if (isFile && !isIgnored(rules, path, false)) {
        out.push({ path, local, size: (await stat(local)).size });
      }
    }
  };
  await walk(root, '', []);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The identity of an upload: SHA-256 over its files sorted by path, `${path}\0${sha256}\0${size}\n` each (as the server computes it). */
export function manifestHash(files: readonly ContentFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) h.update(`${f.path}\0${f.sha256}\0${f.size}\n`);
  return h.digest('hex');
}

// ------------------------------------------------------------------ uploading

export interface UploadProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface UploadOptions {
  /** Upload into this registry instead of the client's workspace. */
  registry?: string;
  /** Files uploaded at once (default: 4 over HTTP, 8 copied directly). */
  concurrency?: number;
  /**
   * Copy the files straight into the server's store when it is a local folder this process can
   * write (a server on this machine): no HTTP, no second hashing pass. Default: yes, unless the
   * environment sets LAPIS_DIRECT_UPLOAD=0. Otherwise, and when it cannot, the files go over HTTP.
   */
  direct?: boolean;
  /** Called as bytes go out. */
  onProgress?: (progress: UploadProgress) => void;
  /**
   * A file that remembers the SHA-256 of files hashed before, so unchanged files are not read
   * again (see HashCache); none by default. The CLI keeps one in its config folder.
   */
  hashCache?: string;
  /** Draw a progress line on stderr (default: when stderr is a terminal). */
  progressBar?: boolean;
  /** Where notes go ("unchanged, reusing stored content"); stderr by default. */
  log?: (message: string) => void;
  /** How the notes name what is uploaded; the path by default. */
  label?: string;
  signal?: AbortSignal;
}

export interface UploadResult {
  /** The manifest hash: what a create request sends as `content`. */
  hash: string;
  files: ContentFile[];
  size: number;
  /** True when the server already held this content, so nothing was sent. */
  reused: boolean;
  /** How the files reached the server: not at all (reused), over HTTP, or copied into its store directly. */
  transfer: 'none' | 'http' | 'direct';
}

/** Files sent at once over HTTP: more streams were slower (the server hashes each on its one thread). */
const HTTP_STREAMS = 4;
/**
 * Files copied at once into a staging folder: each copy ends in an fsync that waits on the disk,
 * and more of them in flight keep its queue full (8 gave 82 % of a plain copy's speed, 4 gave 78 %).
 */
const DIRECT_COPIES = 8;

/** Reads of 1 MiB: a tenth of the per-chunk work of the 64 KiB default on the way to the socket. */
const READ_BYTES = 1 << 20;

/**
 * Streams one file from disk into an upload over `agent`; the server verifies its SHA-256 as it
 * arrives. node:http rather than fetch: on Node 20, fetch reads a streamed body ahead without
 * backpressure (whole files in memory) and spends twice the CPU per byte.
 */
export function putFile(
  client: LapisClient,
  agent: http.Agent,
  hash: string,
  file: { path: string; local: string; sha256: string; size: number },
  opts: { registry?: string; signal?: AbortSignal; onBytes?: (n: number) => void } = {},
): Promise<{ path: string; size: number }> {
  const url = client.endpoint(`/api/v1/content/${segment('content hash', hash)}/files/${filePath(file.path)}`, { registry: opts.registry || undefined });
  const headers = { ...client.baseHeaders(), 'content-type': 'application/octet-stream', 'content-length': String(file.size), 'x-lapis-sha256': file.sha256 };
  const send = url.startsWith('https:') ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const source = createReadStream(file.local, { highWaterMark: READ_BYTES });
    const req = send(url, { method: 'PUT', headers, agent, ...(opts.signal ? { signal: opts.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(JSON.parse(text) as { path: string; size: number });
        else void errorFrom(new Response(text, { status, statusText: res.statusMessage ?? '' }), 'PUT', url).then(reject, reject);
      });
    });
    req.on('error', (err) => {
      source.destroy();
      reject(err.name === 'AbortError' ? err : unreachable(client.url, { cause: err }));
    });
    source.on('error', (err) => req.destroy(err));
    if (opts.onBytes) source.on('data', (c) => opts.onBytes?.(c.length));
    source.pipe(req);
  });
}

/**
 * Uploads a local file or folder unless the server already holds the same content, then commits
 * it. Returns the manifest hash to send as the asset's `content`.
 */
export async function uploadContent(client: LapisClient, localPath: string, opts: UploadOptions = {}): Promise<UploadResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const label = opts.label ?? localPath;
  const scope = opts.registry ? { registry: opts.registry } : {};
  const local = await listLocalFiles(localPath);
  if (local.length === 0) throw new LapisError('INVALID_ARGUMENT', `${label} holds no files to upload (after .amlignore/.gitignore rules).`);

  const progress: UploadProgress = { files: 0, totalFiles: local.length, bytes: 0, totalBytes: local.reduce((n, f) => n + f.size, 0) };
  // Each file's version before it is read: the hash cache's key, and what it must still be after
  // hashing and copying (a file written meanwhile would not match its hash).
  const readAt = Date.now();
  const before = await Promise.all(local.map((f) => stat(f.local, { bigint: true })));
  const cache = opts.hashCache ? await HashCache.load(opts.hashCache) : undefined;
  const known = before.map((s) => cache?.get(s));
  const unknown = local.filter((_, i) => known[i] === undefined);
  const bar = (opts.progressBar ?? process.stderr.isTTY === true) ? progressBar(label) : undefined;
  const report = (): void => {
    opts.onProgress?.({ ...progress });
    bar?.update(progress);
  };
  const streams = opts.concurrency ?? HTTP_STREAMS;
  const copies = opts.concurrency ?? DIRECT_COPIES;
  const wantDirect = opts.direct ?? process.env.LAPIS_DIRECT_UPLOAD !== '0';
  // A large upload to a server on this machine is copied while it is hashed: the copy is the
  // kernel's work and the hashing runs on worker threads, so together they take about as long as
  // the copy alone. Files the hash cache knows are never part of that guess, so the copy is
  // wasted only when never-hashed files turn out to be stored already.
  // The hash threads start while the server opens the staging folder.
  const opening = wantDirect && unknown.reduce((n, f) => n + f.size, 0) >= WORKERS_FROM_BYTES ? openDirect(client, scope) : undefined;
  let early: { id: string; dir: string } | undefined;
  let direct: { id: string; dir: string } | undefined;
  let hashed: Hashed[];
  let hash: string;
  try {
    const fresh = await alongside(
      (signal) => hashFiles(unknown, signal),
      opening &&
        (async (signal) => {
          direct = early = await opening;
          if (!early) return;
          report();
          await copyDirect(local, early.dir, { concurrency: copies, progress, report, signal });
        }),
      opts.signal,
    );
    await unchangedSince(local, before);
    let next = 0;
    hashed = local.map((f, i) => {
      const sha256 = known[i] ?? (fresh[next++] as FileHash).sha256;
      const version = before[i] as BigIntStats;
      cache?.set(version, sha256, readAt);
      return { ...f, size: Number(version.size), sha256 };
    });
    await cache?.save();
    hash = manifestHash(hashed);
    if ((await client.content.exists(hash, scope)).exists) {
      if (early) await client.content.discardDirect(early.id, scope).catch(() => undefined);
      direct = undefined;
      bar?.done();
      const size = hashed.reduce((n, f) => n + f.size, 0);
      log(`${label}: unchanged, reusing stored content ${hash.slice(0, 12)} (${hashed.length} file${hashed.length === 1 ? '' : 's'}, ${formatBytes(size)}).`);
      return { hash, files: hashed.map(({ path, sha256, size }) => ({ path, sha256, size })), size, reused: true, transfer: 'none' };
    }
    if (!early) {
      report();
      // Not asked again when the early offer was refused: the answer would be the same.
      direct = wantDirect && !opening ? await openDirect(client, scope) : undefined;
      if (direct) {
        await copyDirect(hashed, direct.dir, { concurrency: copies, progress, report, ...(opts.signal ? { signal: opts.signal } : {}) });
        await unchangedSince(local, before);
      } else await sendHttp(client, hash, hashed, streams, progress, report, { ...scope, ...(opts.signal ? { signal: opts.signal } : {}) });
    }
    await client.content.commit(hash, hashed.map(({ path, sha256, size }) => ({ path, sha256, size })), { ...scope, ...(direct ? { direct: direct.id } : {}) });
  } catch (err) {
    // The server removes the folder itself once a commit reaches it; this covers the rest.
    if (direct) await client.content.discardDirect(direct.id, scope).catch(() => undefined);
    throw err;
  } finally {
    bar?.done();
  }
  const files: ContentFile[] = hashed.map(({ path, sha256, size }) => ({ path, sha256, size }));
  const size = files.reduce((n, f) => n + f.size, 0);
  const how = direct ? ", copied straight into the server's store" : '';
  log(`${label}: uploaded ${files.length} file${files.length === 1 ? '' : 's'} (${formatBytes(size)}) as content ${hash.slice(0, 12)}${how}.`);
  return { hash, files, size, reused: false, transfer: direct ? 'direct' : 'http' };
}

/** Refuses files written since `before` was taken: what was hashed or copied may be neither version. */
async function unchangedSince(files: readonly LocalFile[], before: readonly BigIntStats[]): Promise<void> {
  const after = await Promise.all(files.map((f) => stat(f.local, { bigint: true }).catch(() => undefined)));
  files.forEach((f, i) => {
    const [a, b] = [before[i] as BigIntStats, after[i]];
    if (!b || a.ino !== b.ino || a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.ctimeNs !== b.ctimeNs) {
      throw new LapisError('INVALID_ARGUMENT', `${f.local} changed while it was being uploaded; upload again once nothing is writing to it.`);
    }
  });
}

/**
 * Runs `main` and, beside it, `side`; returns main's result once both are done. The first
 * failure aborts the other, and is thrown only after both have stopped, so nothing is still
 * writing when the caller cleans up.
 */
async function alongside<T>(main: (signal: AbortSignal) => Promise<T>, side: ((signal: AbortSignal) => Promise<void>) | undefined, signal?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const stop = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', stop, { once: true });
  const guard = <R>(p: Promise<R>): Promise<R> =>
    p.catch((err: unknown) => {
      controller.abort(err);
      throw err;
    });
  try {
    const [first, second] = await Promise.allSettled([guard(main(controller.signal)), guard(side?.(controller.signal) ?? Promise.resolve())]);
    if (first.status === 'rejected') throw first.reason;
    if (second.status === 'rejected') throw second.reason;
    return first.value;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

type Hashed = LocalFile & { sha256: string };

/** PUTs the files `concurrency` at a time over keep-alive connections; the server hashes each again. */
async function sendHttp(
  client: LapisClient,
  hash: string,
  files: readonly Hashed[],
  concurrency: number,
  progress: UploadProgress,
  report: () => void,
  opts: { registry?: string; signal?: AbortSignal },
): Promise<void> {
  const agent = new (client.url.startsWith('https:') ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: concurrency });
  try {
    await pool(
      files,
      concurrency,
      async (f, signal) => {
        await putFile(client, agent, hash, f, {
          ...(opts.registry ? { registry: opts.registry } : {}),
          signal,
          onBytes: (n) => {
            progress.bytes += n;
            report();
          },
        });
        progress.files += 1;
        report();
      },
      opts.signal,
    );
  } finally {
    agent.destroy();
  }
}

/**
 * A direct upload this client can use: the server's store is a local folder, the token the
 * server wrote beside the staging folder reads back here (this process sees the same
 * filesystem), and this process runs as the server's user. Undefined otherwise (another machine,
 * another user, an S3 store, an older server): the files then go over HTTP.
 */
async function openDirect(client: LapisClient, scope: { registry?: string }): Promise<{ id: string; dir: string } | undefined> {
  const upload = await client.content.openDirect(scope).catch(() => undefined);
  if (!upload?.direct) return undefined;
  const token = await readFile(upload.tokenFile, 'utf8').catch(() => undefined);
  // The server's own user only: files another user (root, say) copied in would be theirs, and the
  // server could not move them or clean up after them.
  const owner = await stat(upload.dir).then((s) => s.uid, () => undefined);
  const writable = token === upload.token && owner === process.getuid?.() && (await access(upload.dir, constants.W_OK).then(() => true, () => false));
  if (writable) return upload;
  await client.content.discardDirect(upload.id, scope).catch(() => undefined);
  return undefined;
}

/** How often the progress of files being copied is read off their copies' sizes. */
const COPY_PROGRESS_MS = 200;

/**
 * Copies the files into a staging folder, `concurrency` at a time: a kernel copy (a clone where
 * the filesystem can), then an fsync, so the server's publish finds the bytes on disk.
 */
async function copyDirect(
  files: readonly LocalFile[],
  dir: string,
  opts: { concurrency: number; progress: UploadProgress; report: () => void; signal?: AbortSignal },
): Promise<void> {
  const { progress, report } = opts;
  let copied = 0;
  let stopped = false;
  const copying = new Set<string>();
  const poll = setInterval(() => {
    void Promise.all([...copying].map((p) => stat(p).then((s) => (copying.has(p) ? s.size : 0), () => 0))).then((sizes) => {
      // An answer that comes back after the copies ended, or overlaps a file that just finished, must not move the line.
      if (stopped) return;
      progress.bytes = Math.max(progress.bytes, Math.min(copied + sizes.reduce((a, b) => a + b, 0), progress.totalBytes));
      report();
    });
  }, COPY_PROGRESS_MS).unref();
  try {
    await pool(
      files,
      opts.concurrency,
      async (f) => {
        const target = join(dir, ...f.path.split('/'));
        await mkdir(dirname(target), { recursive: true });
        copying.add(target);
        await copyFile(f.local, target, constants.COPYFILE_FICLONE);
        await fsyncPath(target);
        copying.delete(target);
        copied += f.size;
        progress.bytes = Math.max(progress.bytes, copied);
        progress.files += 1;
        report();
      },
      opts.signal,
    );
  } finally {
    stopped = true;
    clearInterval(poll);
  }
}

// ------------------------------------------------------------------ progress

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A `\r`-rewritten line on stderr: bytes done / total, percentage, rate, files; ten updates a second at most. */
function progressBar(label: string): { update: (p: UploadProgress) => void; done: () => void } {
  const start = Date.now();
  let last = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100 && p.files < p.totalFiles) return;
      last = now;
      shown = true;
      const pct = p.totalBytes > 0 ? Math.floor((p.bytes / p.totalBytes) * 100) : 100;
      const width = 20;
      const filled = Math.round((pct / 100) * width);
      const seconds = Math.max((now - start) / 1000, 0.001);
      process.stderr.write(
        `\r\x1b[KUploading ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)} (${pct}%), ${formatBytes(p.bytes / seconds)}/s, ${p.files}/${p.totalFiles} files`,
      );
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
