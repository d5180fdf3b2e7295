import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LapisError } from '../core/errors.js';
import type { BlobStore } from './store.js';

/**
 * The behaviour every BlobStore backend must share. `open` must return an empty store each time
 * (e.g. a fresh directory or a fresh S3 prefix); the suite closes it after each test.
 */
export function blobContract(name: string, open: () => Promise<BlobStore>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      await store.close();
    });

    async function seed(): Promise<void> {
      await store.put('top.txt', 'top');
      await store.put('a/one.txt', 'one!');
      await store.put('a/b/two.bin', Buffer.from([0, 1, 2]));
      await store.put('a/b/c/three.txt', 'three');
    }

    it('puts a Buffer, a string and a stream and gets the same bytes back', async () => {
      const bytes = randomBytes(1000);
      expect(await store.put('buf.bin', bytes)).toEqual({ size: 1000 });
      expect(await store.put('str.txt', 'héllo ✓')).toEqual({ size: Buffer.byteLength('héllo ✓') });
      expect(await store.put('dir/stream.bin', Readable.from([bytes.subarray(0, 10), bytes.subarray(10)]))).toEqual({ size: 1000 });
      expect(await readAll(await store.get('buf.bin'))).toEqual(bytes);
      expect((await readAll(await store.get('str.txt'))).toString('utf8')).toBe('héllo ✓');
      expect(await readAll(await store.get('dir/stream.bin'))).toEqual(bytes);
    });

    it('stores an empty object', async () => {
      expect(await store.put('empty', '')).toEqual({ size: 0 });
      expect(await store.stat('empty')).toEqual({ size: 0, isDir: false });
      expect((await readAll(await store.get('empty'))).length).toBe(0);
    });

    it('overwrites an existing object', async () => {
      await store.put('x.txt', 'first version');
      await store.put('x.txt', 'second');
      expect((await readAll(await store.get('x.txt'))).toString()).toBe('second');
      expect(await store.stat('x.txt')).toEqual({ size: 6, isDir: false });
    });

    it('round-trips keys with spaces, unicode and a literal %', async () => {
      const key = 'dir with space/ünï cødé 100%41.txt';
      await store.put(key, 'ok');
      expect((await readAll(await store.get(key))).toString()).toBe('ok');
      expect(await store.list('dir with space')).toEqual([{ path: 'ünï cødé 100%41.txt', isDir: false, size: 2 }]);
    });

    it('normalises keys the same way on put and get', async () => {
      await store.put('./n/./file.txt', 'n');
      expect((await readAll(await store.get('n/file.txt'))).toString()).toBe('n');
      expect(await store.stat('n/')).toEqual({ size: 0, isDir: true });
    });

    it('stats files, directories and missing keys', async () => {
      await seed();
      expect(await store.stat('top.txt')).toEqual({ size: 3, isDir: false });
      expect(await store.stat('a/b/two.bin')).toEqual({ size: 3, isDir: false });
      expect(await store.stat('a')).toEqual({ size: 0, isDir: true });
      expect(await store.stat('a/b/c')).toEqual({ size: 0, isDir: true });
      expect(await store.stat('nope')).toBeNull();
      expect(await store.stat('a/nope')).toBeNull();
      expect(await store.stat('top.txt/below')).toBeNull();
    });

    it('lists immediate children, directories without size, sorted by path', async () => {
      await seed();
      await store.put('a/a-first.txt', '1');
      expect(await store.list('')).toEqual([
        { path: 'a', isDir: true },
        { path: 'top.txt', isDir: false, size: 3 },
      ]);
      expect(await store.list('a')).toEqual([
        { path: 'a-first.txt', isDir: false, size: 1 },
        { path: 'b', isDir: true },
        { path: 'one.txt', isDir: false, size: 4 },
      ]);
      expect(await store.list('a/b/')).toEqual([
        { path: 'c', isDir: true },
        { path: 'two.bin', isDir: false, size: 3 },
      ]);
    });

    it('lists nothing for a missing prefix or a file', async () => {
      await seed();
      expect(await store.list('missing')).toEqual([]);
      expect(await store.list('top.txt')).toEqual([]);
    });

    it('lists all files under a prefix recursively, relative to it', async () => {
      await seed();
      const all = await collect(store.listRecursive(''));
      expect(all).toEqual([
        { path: 'a/b/c/three.txt', size: 5 },
        { path: 'a/b/two.bin', size: 3 },
        { path: 'a/one.txt', size: 4 },
        { path: 'top.txt', size: 3 },
      ]);
      expect(await collect(store.listRecursive('a/b'))).toEqual([
        { path: 'c/three.txt', size: 5 },
        { path: 'two.bin', size: 3 },
      ]);
      expect(await collect(store.listRecursive('missing'))).toEqual([]);
    });

    it('deletes a file, leaving its siblings', async () => {
      await seed();
      await store.delete('a/one.txt');
      expect(await store.stat('a/one.txt')).toBeNull();
      expect((await store.list('a')).map((e) => e.path)).toEqual(['b']);
    });

    it('deletes everything under a prefix, and the prefix disappears', async () => {
      await seed();
      await store.delete('a/b');
      expect(await collect(store.listRecursive('a'))).toEqual([{ path: 'one.txt', size: 4 }]);
      expect(await store.stat('a/b')).toBeNull();
      await store.delete('a/one.txt');
      expect(await store.list('')).toEqual([{ path: 'top.txt', isDir: false, size: 3 }]);
      expect(await store.stat('a')).toBeNull();
    });

    it('does not mind deleting what is missing', async () => {
      await store.delete('never/was');
      await store.delete('never');
    });

    it('throws NOT_FOUND for a missing object or a directory', async () => {
      await seed();
      await expect(store.get('missing.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(store.get('a/missing/deeper.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(store.get('a/b')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(store.get('missing.txt')).rejects.toBeInstanceOf(LapisError);
    });

    it('reads byte ranges, end inclusive', async () => {
      await store.put('r.txt', '0123456789');
      expect((await readAll(await store.get('r.txt', { start: 2, end: 5 }))).toString()).toBe('2345');
      expect((await readAll(await store.get('r.txt', { start: 7 }))).toString()).toBe('789');
      expect((await readAll(await store.get('r.txt', { start: 8, end: 100 }))).toString()).toBe('89');
      await expect(store.get('r.txt', { start: 10 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(store.get('r.txt', { start: 5, end: 4 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('refuses unsafe keys before touching storage', async () => {
      for (const key of ['../escape.txt', 'a/../../escape.txt', '/abs.txt', 'a\\b', '%2e%2e/escape.txt', 'a//b']) {
        await expect(store.put(key, 'x'), key).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(store.get(key), key).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(store.stat(key), key).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(store.list(key), key).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(store.delete(key), key).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      }
      await expect(collect(store.listRecursive('../x'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('leaves no object behind when the body stream fails midway (after a whole part, on S3)', async () => {
      await store.put('kept.bin', 'old');
      const failing = (): Readable => Readable.from(chunks(10 * 1024 * 1024, 64 * 1024, new Error('source broke')));
      await expect(store.put('fresh/new.bin', failing())).rejects.toThrow('source broke');
      await expect(store.put('kept.bin', failing())).rejects.toThrow('source broke');
      expect(await store.stat('fresh/new.bin')).toBeNull();
      expect(await store.stat('fresh')).toBeNull();
      expect((await readAll(await store.get('kept.bin'))).toString()).toBe('old');
      expect(await collect(store.listRecursive(''))).toEqual([{ path: 'kept.bin', size: 3 }]);
    });

    it('streams a 20 MB object in and out without changing a byte', async () => {
      const size = 20 * 1024 * 1024 + 123;
      const hash = createHash('sha256');
      const source = Readable.from(
        (async function* () {
          for await (const chunk of chunks(size, 256 * 1024)) {
            hash.update(chunk);
            yield chunk;
          }
        })(),
      );
      expect(await store.put('big/twenty.bin', source)).toEqual({ size });
      const expected = hash.digest('hex');
      expect(await store.stat('big/twenty.bin')).toEqual({ size, isDir: false });
      const back = createHash('sha256');
      let read = 0;
      for await (const chunk of await store.get('big/twenty.bin')) {
        back.update(chunk as Buffer);
        read += (chunk as Buffer).length;
      }
      expect(read).toBe(size);
      expect(back.digest('hex')).toBe(expected);
      const tail = await readAll(await store.get('big/twenty.bin', { start: size - 10 }));
      expect(tail.length).toBe(10);
    }, 120_000);
  });
}

/** Random chunks totalling `total` bytes; throws `failWith` at the end instead of finishing, if given. */
async function* chunks(total: number, chunkSize: number, failWith?: Error): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < total; sent += chunkSize) yield randomBytes(Math.min(chunkSize, total - sent));
  if (failWith) throw failWith;
}

/** Only for the small objects of these tests; real callers stream. */
async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(parts);
}

async function collect<T extends { path: string }>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
