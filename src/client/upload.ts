import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, copyFile, mkdir, open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { basename, dirname, join } from 'node:path';
import { LapisError } from '../core/errors.js';
import { pool } from '../core/pool.js';
import { escapeRegex, globBody } from '../core/glob.js';
import { hashFiles } from './hashing.js';
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
  /** Files uploaded at once (default 4). */
  concurrency?: number;
  /**
   * Copy the files straight into the server's store when it is a local folder this process can
   * write (a server on this machine): no HTTP, no second hashing pass. Default: yes, unless the
   * environment sets LAPIS_DIRECT_UPLOAD=0. Otherwise, and when it cannot, the files go over HTTP.
   */
  direct?: boolean;
  /** Called as bytes go out. */
  onProgress?: (progress: UploadProgress) => void;
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

  const hashed = (await hashFiles(local, opts.signal)).map((h, i) => ({ ...(local[i] as LocalFile), ...h }));
  const files: ContentFile[] = hashed.map(({ path, sha256, size }) => ({ path, sha256, size }));
  const hash = manifestHash(files);
  const size = files.reduce((n, f) => n + f.size, 0);

  if ((await client.content.exists(hash, scope)).exists) {
    log(`${label}: unchanged, reusing stored content ${hash.slice(0, 12)} (${files.length} file${files.length === 1 ? '' : 's'}, ${formatBytes(size)}).`);
    return { hash, files, size, reused: true, transfer: 'none' };
  }

  const progress: UploadProgress = { files: 0, totalFiles: files.length, bytes: 0, totalBytes: size };
  const bar = (opts.progressBar ?? process.stderr.isTTY === true) ? progressBar(label) : undefined;
  const report = (): void => {
    opts.onProgress?.({ ...progress });
    bar?.update(progress);
  };
  report();
  const concurrency = opts.concurrency ?? 4;
  const direct = (opts.direct ?? process.env.LAPIS_DIRECT_UPLOAD !== '0') ? await openDirect(client, scope) : undefined;
  try {
    if (direct) await copyDirect(hashed, direct.dir, concurrency, progress, report, opts.signal);
    else await sendHttp(client, hash, hashed, concurrency, progress, report, { ...scope, ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (err) {
    if (direct) await client.content.discardDirect(direct.id, scope).catch(() => undefined);
    throw err;
  } finally {
    bar?.done();
  }
  await client.content.commit(hash, files, { ...scope, ...(direct ? { direct: direct.id } : {}) });
  const how = direct ? ", copied straight into the server's store" : '';
  log(`${label}: uploaded ${files.length} file${files.length === 1 ? '' : 's'} (${formatBytes(size)}) as content ${hash.slice(0, 12)}${how}.`);
  return { hash, files, size, reused: false, transfer: direct ? 'direct' : 'http' };
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
 * A direct upload this client can use: the server's store is a local folder, and the token the
 * server wrote beside the staging folder reads back here, so this process sees the same
 * filesystem and may write there. Undefined otherwise (another machine, another user, an S3
 * store, an older server): the files then go over HTTP.
 */
async function openDirect(client: LapisClient, scope: { registry?: string }): Promise<{ id: string; dir: string } | undefined> {
  const upload = await client.content.openDirect(scope).catch(() => undefined);
  if (!upload?.direct) return undefined;
  const token = await readFile(upload.tokenFile, 'utf8').catch(() => undefined);
  const writable = token === upload.token && (await access(upload.dir, constants.W_OK).then(() => true, () => false));
  if (writable) return upload;
  await client.content.discardDirect(upload.id, scope).catch(() => undefined);
  return undefined;
}

/** How often the progress of files being copied is read off their copies' sizes. */
const COPY_PROGRESS_MS = 200;

/**
 * Copies the files into a staging folder, `concurrency` at a time: a kernel copy (a clone where
 * the filesystem can), then an fsync, so the server's publish finds the bytes already on disk.
 */
async function copyDirect(files: readonly Hashed[], dir: string, concurrency: number, progress: UploadProgress, report: () => void, signal?: AbortSignal): Promise<void> {
  let copied = 0;
  const copying = new Set<string>();
  const poll = setInterval(() => {
    void Promise.all([...copying].map((p) => stat(p).then((s) => s.size, () => 0))).then((sizes) => {
      progress.bytes = copied + sizes.reduce((a, b) => a + b, 0);
      report();
    });
  }, COPY_PROGRESS_MS).unref();
  try {
    await pool(
      files,
      concurrency,
      async (f) => {
        const target = join(dir, ...f.path.split('/'));
        await mkdir(dirname(target), { recursive: true });
        copying.add(target);
        await copyFile(f.local, target, constants.COPYFILE_FICLONE);
        const handle = await open(target, 'r');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        copying.delete(target);
        copied += f.size;
        progress.bytes = copied;
        progress.files += 1;
        report();
      },
      signal,
    );
  } finally {
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
    },
  };
}
