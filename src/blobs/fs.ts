import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { mkdir, open, readdir, realpath, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { LapisError, notFound } from '../core/errors.js';
import { fsyncPath } from './fsync.js';
import {
  checkKey,
  checkPrefix,
  checkRange,
  rangeNotSatisfiable,
  type BlobBody,
  type BlobEntry,
  type BlobStat,
  type BlobStore,
  type ByteRange,
} from './store.js';
import { FsStaging, STAGING_DIR } from './fs-staging.js';

// `.<name>.<16 hex>.tmp`: the shape put() gives its temp files, hidden from listings.
const TEMP_NAME = /^\..*\.[0-9a-f]{16}\.tmp$/;
// Keeps `.<name>.<random>.tmp` under the usual 255-byte limit on a file name.
const TEMP_STEM_MAX = 120;
const WRITE_BUFFER_BYTES = 1 << 20;

export async function openFsBlobStore(root: string): Promise<BlobStore> {
  const absolute = resolve(root);
  await mkdir(absolute, { recursive: true });
  // Containment is checked against the real path, so a root reached through a symlink still works.
  return new FsBlobStore(pathToFileURL(absolute).href, await realpath(absolute));
}

class FsBlobStore implements BlobStore {
  private readonly rootPrefix: string;
  readonly staging: FsStaging;

  constructor(
    readonly uri: string,
    private readonly root: string,
  ) {
    this.rootPrefix = root.endsWith(sep) ? root : root + sep;
    this.staging = new FsStaging(root, (key) => this.place(key));
  }

  /** The path of `key`, its parent folders created (confined to the root first, as in put). */
  private async place(key: string): Promise<string> {
    const k = checkKey(key);
    const target = this.pathOf(k);
    await this.confine(dirname(target), k);
    await mkdir(dirname(target), { recursive: true }).catch((err: unknown) => {
      throw errno(err) === 'ENOTDIR' || errno(err) === 'EEXIST'
        ? new LapisError('CONFLICT', `Cannot store '${k}': one of its parent directories is a file; delete it first or choose another path.`)
        : err;
    });
    return target;
  }

  async put(key: string, body: BlobBody): Promise<{ size: number }> {
    const k = checkKey(key);
    const target = this.pathOf(k);
    const dir = dirname(target);
    // Before mkdir: mkdir -p through a symlinked segment would create directories outside the root.
    await this.confine(dir, k);
    const temp = join(dir, `.${basename(target).slice(0, TEMP_STEM_MAX)}.${randomBytes(8).toString('hex')}.tmp`);
    const handle = await this.createTemp(dir, temp, k);
    try {
      // The stream writes through the numeric fd (callback fs API, writev of queued chunks): the
      // FileHandle write path costs several times the CPU per byte. The handle still owns the fd.
      // A deeper buffer (1 MiB) lets the chunks that arrive while a write is in flight (64 KiB each
      // from a socket) go out as one writev: a write per chunk cost a thread-pool round trip each,
      // which held the main thread longer than hashing the bytes. 4 MiB was no faster and held more.
      const out = createWriteStream(temp, { fd: handle.fd, autoClose: false, highWaterMark: WRITE_BUFFER_BYTES });
      const source = typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([body]) : body;
      await pipeline(source, out);
      // Durable before visible: the data reaches the disk before the rename publishes it, and the
      // directory entry after it, so a stored object survives a crash.
      await handle.sync();
      await handle.close();
      await rename(temp, target).catch((err: unknown) => {
        throw errno(err) === 'EISDIR' || errno(err) === 'ENOTEMPTY' || errno(err) === 'EEXIST'
          ? new LapisError('CONFLICT', `Cannot store '${k}': a directory of that name exists; delete it first or choose another path.`)
          : err;
      });
      await fsyncPath(dir);
      return { size: out.bytesWritten };
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      await this.prune(dir);
      throw err;
    }
  }

  /** Creates parent dirs and the temp file; retries when a concurrent delete prunes the fresh, still empty dir. */
  private async createTemp(dir: string, temp: string, key: string): Promise<FileHandle> {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(dir, { recursive: true });
        return await open(temp, 'wx');
      } catch (err) {
        const code = errno(err);
        if (code === 'ENOTDIR' || code === 'EEXIST') {
          throw new LapisError('CONFLICT', `Cannot store '${key}': one of its parent directories is a file; delete it first or choose another path.`);
        }
        if (code !== 'ENOENT' || attempt === 3) throw err;
      }
    }
  }

  async get(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream> {
    const k = checkKey(key);
    if (range) checkRange(range);
    const path = this.pathOf(k);
    await this.confine(path, k);
    // Open first and stat the handle, so the stream reads exactly the file that was checked.
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (isMissing(err)) throw this.missing(k);
      throw err;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw this.missing(k);
      if (range && range.start >= info.size) throw rangeNotSatisfiable(k, range, info.size);
      return createReadStream(path, { fd: handle, start: range?.start, end: range?.end });
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async stat(key: string): Promise<BlobStat | null> {
    const k = checkKey(key);
    const path = this.pathOf(k);
    await this.confine(path, k);
    const info = await stat(path).catch((err: unknown) => {
      if (isMissing(err)) return null;
      throw err;
    });
    if (info?.isFile()) return { size: info.size, isDir: false };
    if (info?.isDirectory()) return { size: 0, isDir: true };
    return null;
  }

  async list(prefix: string): Promise<BlobEntry[]> {
    const p = checkPrefix(prefix);
    const dir = this.pathOf(p);
    await this.confine(dir, p);
    const entries: BlobEntry[] = [];
    for (const dirent of await this.readDir(dir)) {
      const kind = await this.kindOf(dir, dirent);
      if (kind?.isDir) entries.push({ path: dirent.name, isDir: true });
      else if (kind) entries.push({ path: dirent.name, isDir: false, size: kind.size });
    }
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async *listRecursive(prefix: string): AsyncIterable<{ path: string; size: number }> {
    const p = checkPrefix(prefix);
    const base = this.pathOf(p);
    await this.confine(base, p);
    // Real paths already walked: a symlink to an ancestor must not loop forever.
    const seen = new Set<string>();
    const pending = [base];
    for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
      const real = await realpath(dir).catch(() => null);
      if (real === null || seen.has(real)) continue;
      seen.add(real);
      for (const dirent of await this.readDir(dir)) {
        const kind = await this.kindOf(dir, dirent);
        if (kind?.isDir) pending.push(join(dir, dirent.name));
        else if (kind) yield { path: relative(base, join(dir, dirent.name)).split(sep).join('/'), size: kind.size };
      }
    }
  }

  async delete(key: string): Promise<void> {
    const k = checkKey(key);
    const path = this.pathOf(k);
    // Only the parent is confined: rm removes a symlink itself, never what it points to.
    await this.confine(dirname(path), k);
    await rm(path, { recursive: true, force: true }).catch((err: unknown) => {
      if (errno(err) !== 'ENOTDIR') throw err;
    });
    await this.prune(dirname(path));
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    // checkKey has ruled out '..', absolute paths and separators other than '/'.
    return key === '' ? this.root : join(this.root, ...key.split('/'));
  }

  private inside(real: string): boolean {
    return real === this.root || real.startsWith(this.rootPrefix);
  }

  /** Refuses a path whose deepest existing ancestor resolves, through symlinks, outside the root. */
  private async confine(path: string, key: string): Promise<void> {
    for (let p = path; ; p = dirname(p)) {
      try {
        if (this.inside(await realpath(p))) return;
        break;
      } catch (err) {
        if (!isMissing(err) || p === this.root) throw err;
      }
    }
    throw new LapisError('PERMISSION_DENIED', `Artifact path '${key}' leads outside the artifact root through a symbolic link; replace the link with a real directory or file.`);
  }

  private async readDir(dir: string): Promise<Dirent[]> {
    return readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
      if (isMissing(err)) return [];
      throw err;
    });
  }

  /** A listing entry's type and size: temp files, staging folders, special files and links leaving the root are skipped. */
  private async kindOf(dir: string, dirent: Dirent): Promise<{ isDir: boolean; size: number } | null> {
    if (TEMP_NAME.test(dirent.name) || (dir === this.root && dirent.name === STAGING_DIR)) return null;
    const path = join(dir, dirent.name);
    if (dirent.isSymbolicLink()) {
      const real = await realpath(path).catch(() => null);
      if (real === null || !this.inside(real)) return null;
    } else if (!dirent.isFile() && !dirent.isDirectory()) {
      return null;
    }
    const info = await stat(path).catch((err: unknown) => {
      if (isMissing(err)) return null;
      throw err;
    });
    if (info?.isDirectory()) return { isDir: true, size: 0 };
    if (info?.isFile()) return { isDir: false, size: info.size };
    return null;
  }

  /** Removes now-empty parents up to the root, so a directory exists only while objects are under it (as on S3). */
  private async prune(dir: string): Promise<void> {
    for (let d = dir; d !== this.root && d.startsWith(this.rootPrefix); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return;
      }
    }
  }

  private missing(key: string): LapisError {
    return notFound(`Artifact '${key}' does not exist in ${this.uri}.`, { path: key });
  }
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function isMissing(err: unknown): boolean {
  return errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR';
}
