import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore, StagedUpload } from '../blobs/index.js';
import { checkKey, readText } from '../blobs/index.js';
import { now } from '../core/clock.js';
import { invalid, notFound } from '../core/errors.js';
import type { Database } from '../store/db.js';

export interface ContentFile {
  path: string;
  sha256: string;
  size: number;
}

const HASH = /^[0-9a-f]{64}$/;

/** The identity of an upload: SHA-256 over its sorted (path, file hash, size) list. */
export function manifestHash(files: ContentFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) h.update(`${f.path}\0${f.sha256}\0${f.size}\n`);
  return h.digest('hex');
}

export function checkHash(hash: unknown, what = 'content hash'): string {
  if (typeof hash !== 'string' || !HASH.test(hash)) throw invalid(`Invalid ${what} ${JSON.stringify(hash)}: expected 64 lowercase hex characters (SHA-256).`);
  return hash;
}

/**
 * Content-addressed uploads per scope. Files of an upload land under `<prefix>/content/<hash>/`:
 * sent over HTTP, each is verified against its declared SHA-256 while it streams; copied by a
 * client on this machine into a staging folder (a direct upload), each is moved into place at
 * commit. An upload counts only once it is committed (every file present with the declared size),
 * so a failed upload leaves no asset and an identical later upload is skipped entirely.
 */
export class ContentStore {
  readonly #database: Database;
  readonly #blobs: BlobStore;

  constructor(database: Database, blobs: BlobStore) {
    this.#database = database;
    this.#blobs = blobs;
  }

  /** Blob prefix of a scope: a workspace name, or `_registries/<name>` for a registry (`registry/<name>`). */
  static prefix(scope: string): string {
    return scope.startsWith('registry/') ? `_registries/${scope.slice('registry/'.length)}` : scope;
  }

  /** The artifact-proxy path of a content folder, as MLflow clients download it. */
  static proxyPath(hash: string): string {
    return `content/${hash}`;
  }

  key(scope: string, hash: string, path = ''): string {
    return `${ContentStore.prefix(scope)}/content/${checkHash(hash)}${path ? `/${checkKey(path)}` : ''}`;
  }

  async find(scope: string, hash: string): Promise<{ files: ContentFile[]; size: number } | undefined> {
    const row = await this.#database.db.selectFrom('contents').select(['files', 'size']).where('scope', '=', scope).where('hash', '=', checkHash(hash)).executeTakeFirst();
    return row ? { files: JSON.parse(row.files) as ContentFile[], size: Number(row.size) } : undefined;
  }

  /** Streams one file of an upload, hashing as it goes; a hash mismatch removes the file. */
  async putFile(scope: string, hash: string, path: string, expectedSha: unknown, body: Readable): Promise<{ size: number }> {
    const sha = checkHash(expectedSha, 'file SHA-256 (x-lapis-sha256 header)');
    const key = this.key(scope, hash, path);
    const hasher = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hasher.update(chunk);
        done(null, chunk);
      },
    });
    const [{ size }] = await Promise.all([this.#blobs.put(key, tap), pipeline(body, tap)]);
    const actual = hasher.digest('hex');
    if (actual !== sha) {
      await this.#blobs.delete(key);
      throw invalid(`File '${path}' arrived with SHA-256 ${actual}, not the declared ${sha}: it changed during the upload or was corrupted. Upload it again.`);
    }
    return { size };
  }

  /** A staging folder for a direct upload from a client on this machine; undefined when the store has none. */
  async openDirect(): Promise<StagedUpload | undefined> {
    return this.#blobs.staging?.open();
  }

  async discardDirect(id: string): Promise<void> {
    await this.#blobs.staging?.discard(id);
  }

  /**
   * Marks an upload complete after checking every declared file is stored with its size. With
   * `direct`, the files are first published from that staging folder, which is removed either way.
   */
  async commit(scope: string, hash: string, files: ContentFile[], direct?: string): Promise<{ hash: string; size: number; files: number }> {
    if (direct === undefined) return this.#commit(scope, hash, files);
    const staging = this.#blobs.staging;
    if (!staging) throw invalid('This server stores artifacts outside its filesystem, so it has no direct uploads: upload the files over HTTP.');
    try {
      return await this.#commit(scope, hash, files, (keys) => staging.publish(direct, keys));
    } finally {
      // Never in place of the commit's own answer; a folder left behind is swept after a day.
      await staging.discard(direct).catch(() => undefined);
    }
  }

  async #commit(scope: string, hash: string, files: ContentFile[], publish?: (keys: { path: string; key: string; size: number }[]) => Promise<void>): Promise<{ hash: string; size: number; files: number }> {
    checkHash(hash);
    if (files.length === 0) throw invalid('An upload needs at least one file.');
    for (const f of files) {
      checkKey(f.path);
      checkHash(f.sha256, `SHA-256 of '${f.path}'`);
      if (!Number.isSafeInteger(f.size) || f.size < 0) throw invalid(`Invalid size for '${f.path}'.`);
    }
    if (manifestHash(files) !== hash) throw invalid(`The file list does not hash to ${hash}: compute the content hash over the same files you uploaded.`);
    const existing = await this.find(scope, hash);
    if (existing) return { hash, size: existing.size, files: existing.files.length };
    await publish?.(files.map((f) => ({ path: f.path, key: this.key(scope, hash, f.path), size: f.size })));
    for (const f of files) {
      const stat = await this.#blobs.stat(this.key(scope, hash, f.path));
      if (!stat || stat.isDir || stat.size !== f.size) {
        throw invalid(`Upload ${hash.slice(0, 12)} is incomplete: '${f.path}' is ${stat ? `${stat.size} bytes, not ${f.size}` : 'missing'}. Upload it, then commit again.`);
      }
    }
    const size = files.reduce((n, f) => n + f.size, 0);
    await this.#database.db
      .insertInto('contents')
      .values({ scope, hash, files: JSON.stringify(files), size, created_at: now() })
      .onConflict((oc) => oc.doNothing())
      .execute();
    return { hash, size, files: files.length };
  }

  async open(scope: string, hash: string, path: string): Promise<{ stream: NodeJS.ReadableStream; size: number }> {
    const content = await this.find(scope, hash);
    const file = content?.files.find((f) => f.path === path);
    if (!file) throw notFound(`No file '${path}' in this asset.`);
    return { stream: await this.#blobs.get(this.key(scope, hash, path)), size: file.size };
  }

  /** A file of the content as text, or undefined when it has no such file. */
  async text(scope: string, hash: string, path: string): Promise<string | undefined> {
    if (!(await this.find(scope, hash))?.files.some((f) => f.path === path)) return undefined;
    return readText(await this.#blobs.get(this.key(scope, hash, path)));
  }

  /** Copies committed content into another scope (sharing to a registry). Skips what is there. */
  async copy(from: string, to: string, hash: string): Promise<void> {
    if (await this.find(to, hash)) return;
    const content = await this.find(from, hash);
    if (!content) throw notFound(`Content ${hash.slice(0, 12)} is missing from '${from}'.`);
    for (const f of content.files) {
      await this.#blobs.put(this.key(to, hash, f.path), await this.#blobs.get(this.key(from, hash, f.path)));
    }
    await this.commit(to, hash, content.files);
  }
}
