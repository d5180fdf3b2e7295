import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * SHA-256 of local files this machine has hashed before (Node only), so an unchanged file is not
 * read again on the next upload. An entry is keyed by the file's device and inode and holds its
 * size, modification and change times in nanoseconds: any write moves the change time, which no
 * user can set back, so a rewritten file never matches its old entry (git's index and DVC rely on
 * the same). The file is replaced whole (temp file, then rename); a missing or damaged file is an
 * empty cache, and one that cannot be written is skipped: it only ever saves time.
 */

/** Entries kept: the most recently used, about 100 bytes each on disk. */
const MAX_ENTRIES = 50_000;
/**
 * A file changed this recently is not remembered: on kernels that stamp times once per clock tick
 * (1–10 ms), a second write in the same tick would leave its times, and so its entry, unchanged
 * (git's "racily clean" files).
 */
const SETTLED_MS = 2_000;

type Entry = [size: string, mtimeNs: string, ctimeNs: string, sha256: string, usedAt: number];

export class HashCache {
  readonly #path: string;
  readonly #entries: Map<string, Entry>;
  #changed = false;

  private constructor(path: string, entries: Map<string, Entry>) {
    this.#path = path;
    this.#entries = entries;
  }

  static async load(path: string): Promise<HashCache> {
    const entries = new Map<string, Entry>();
    try {
      const data = JSON.parse(await readFile(path, 'utf8')) as { version?: unknown; entries?: unknown };
      if (data.version === 1 && data.entries && typeof data.entries === 'object') {
        for (const [key, value] of Object.entries(data.entries as Record<string, unknown>)) {
          if (Array.isArray(value) && value.length === 5 && typeof value[3] === 'string') entries.set(key, value as Entry);
        }
      }
    } catch {
      // No cache yet, or not one we wrote: start empty.
    }
    return new HashCache(path, entries);
  }

  /** The SHA-256 remembered for exactly this version of the file, if any. */
  get(stat: BigIntStats): string | undefined {
    const entry = this.#entries.get(keyOf(stat));
    if (!entry || entry[0] !== String(stat.size) || entry[1] !== String(stat.mtimeNs) || entry[2] !== String(stat.ctimeNs)) return undefined;
    entry[4] = Date.now();
    this.#changed = true;
    return entry[3];
  }

  /** Remembers the hash of this version of the file, read at `readAt` (epoch ms), unless it was too fresh then. */
  set(stat: BigIntStats, sha256: string, readAt = Date.now()): void {
    const changedAt = Number((stat.mtimeNs > stat.ctimeNs ? stat.mtimeNs : stat.ctimeNs) / 1_000_000n);
    if (readAt - changedAt < SETTLED_MS) return;
    this.#entries.set(keyOf(stat), [String(stat.size), String(stat.mtimeNs), String(stat.ctimeNs), sha256, Date.now()]);
    this.#changed = true;
  }

  async save(): Promise<void> {
    if (!this.#changed) return;
    const kept = [...this.#entries].sort((a, b) => b[1][4] - a[1][4]).slice(0, MAX_ENTRIES);
    const temp = join(dirname(this.#path), `.hash-cache.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
      await writeFile(temp, JSON.stringify({ version: 1, entries: Object.fromEntries(kept) }), { mode: 0o600, flag: 'wx' });
      await rename(temp, this.#path);
      this.#changed = false;
    } catch {
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }
}

function keyOf(stat: BigIntStats): string {
  return `${stat.dev}:${stat.ino}`;
}
