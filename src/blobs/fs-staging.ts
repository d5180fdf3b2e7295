import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { invalid } from '../core/errors.js';
import { fsyncPath } from './fsync.js';
import { pool } from '../core/pool.js';
import { checkKey, type BlobStaging, type StagedUpload } from './store.js';

/** The folder under a filesystem store's root that holds staging folders; hidden from listings. */
export const STAGING_DIR = '.uploads';
/** A staging folder untouched this long belongs to a client that gave up; the next open removes it. */
const ABANDONED_MS = 24 * 60 * 60 * 1000;
const ID = /^[0-9a-f]{32}$/;
/** Files checked and moved at once: each step is a thread-pool round trip, so many small files overlap. */
const PARALLEL_FILES = 8;

/**
 * Staging folders of a filesystem blob store: `<root>/.uploads/<id>/files/` for the client's
 * copies and `<id>/token` beside it. Publishing renames each file into place (same filesystem:
 * no bytes move) after an fsync, which costs little when the client synced it already.
 */
export class FsStaging implements BlobStaging {
  readonly #base: string;
  readonly #place: (key: string) => Promise<string>;

  /** `place(key)` confines a key to the store, creates its parent folders and returns its path. */
  constructor(root: string, place: (key: string) => Promise<string>) {
    this.#base = join(root, STAGING_DIR);
    this.#place = place;
  }

  async open(): Promise<StagedUpload> {
    await this.#sweep();
    const id = randomBytes(16).toString('hex');
    const folder = join(this.#base, id);
    await mkdir(join(folder, 'files'), { recursive: true, mode: 0o700 });
    const token = randomBytes(16).toString('hex');
    await writeFile(join(folder, 'token'), token, { mode: 0o600 });
    return { id, dir: join(folder, 'files'), tokenFile: join(folder, 'token'), token };
  }

  async publish(id: string, files: readonly { path: string; key: string; size: number }[]): Promise<void> {
    const folder = this.#folder(id);
    const root = join(folder, 'files');
    const staged = files.map((f) => ({ ...f, from: join(root, ...checkKey(f.path).split('/')) }));
    await pool(staged, PARALLEL_FILES, async (f) => {
      // A linked folder on the way would move files from elsewhere: the file's folder must really be inside.
      const parent = await realpath(dirname(f.from)).catch(() => undefined);
      if (parent !== undefined && parent !== root && !parent.startsWith(root + sep)) throw invalid(`'${f.path}' in direct upload ${id.slice(0, 12)} is under a linked folder: copy the files themselves.`);
      const info = await lstat(f.from).catch(() => undefined);
      if (!info) throw invalid(`Direct upload ${id.slice(0, 12)} is incomplete: '${f.path}' is missing. Copy it, then commit again.`);
      if (!info.isFile()) throw invalid(`'${f.path}' in direct upload ${id.slice(0, 12)} is not a regular file (a link or a folder): copy the file's bytes instead.`);
      if (info.size !== f.size) throw invalid(`Direct upload ${id.slice(0, 12)} is incomplete: '${f.path}' is ${info.size} bytes, not ${f.size}. Copy it again, then commit.`);
      // A hard link would let whoever holds the other name change stored, immutable content.
      if (info.nlink !== 1) throw invalid(`'${f.path}' in direct upload ${id.slice(0, 12)} has other hard links: stored content must be a copy of its own.`);
    });
    const dirs = new Set<string>();
    await pool(staged, PARALLEL_FILES, async (f) => {
      await fsyncPath(f.from);
      const target = await this.#place(f.key);
      await rename(f.from, target);
      dirs.add(dirname(target));
    });
    await pool([...dirs], PARALLEL_FILES, fsyncPath);
    await rm(folder, { recursive: true, force: true });
  }

  async discard(id: string): Promise<void> {
    await rm(this.#folder(id), { recursive: true, force: true });
  }

  #folder(id: string): string {
    if (typeof id !== 'string' || !ID.test(id)) throw invalid(`Invalid direct upload id ${JSON.stringify(id)}: expected the 32 hex characters the server returned when the upload was opened.`);
    return join(this.#base, id);
  }

  async #sweep(): Promise<void> {
    const names = await readdir(this.#base).catch(() => [] as string[]);
    const cutoff = Date.now() - ABANDONED_MS;
    for (const name of names) {
      const info = await stat(join(this.#base, name)).catch(() => undefined);
      // One that cannot be removed (another user's files in it) must not stop new uploads.
      if (info && info.mtimeMs < cutoff) await rm(join(this.#base, name), { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
