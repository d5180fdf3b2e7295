import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { blobContract } from './contract.js';
import { checkKey, joinKey, openBlobStore, type BlobStore } from './index.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lapis-blobs-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

blobContract('fs', async () => openBlobStore(join(await tempDir(), 'root')));

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
}

/** Every file and directory under dir, '/'-separated, including hidden temp files. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map((p) => p.split('\\').join('/')).sort();
}

describe('checkKey', () => {
  it.each([
    ['a', 'a'],
    ['a/b/c.txt', 'a/b/c.txt'],
    ['a/./b', 'a/b'],
    ['./a', 'a'],
    ['a/b/', 'a/b'],
    ['100%.txt', '100%.txt'],
    ['a%20b', 'a%20b'],
    ['..a/b..', '..a/b..'],
    ['%2e%2ehidden', '%2e%2ehidden'],
  ])('accepts %j as %j', (key, normalised) => {
    expect(checkKey(key)).toBe(normalised);
  });

  it.each([
    ['', /empty/],
    ['.', /empty/],
    ['/', /absolute/],
    ['/etc/passwd', /absolute/],
    ['..', /'\.\.'/],
    ['../x', /'\.\.'/],
    ['a/../../x', /'\.\.'/],
    ['a/..', /'\.\.'/],
    ['a//b', /empty segment/],
    ['a\\b', /backslash/],
    ['..\\x', /backslash/],
    ['a\0b', /NUL/],
    ['C:/Windows', /drive letter/],
    ['%2e%2e/x', /'\.\.'/],
    ['%2E%2E', /'\.\.'/],
    ['a/%2e%2e/%2e%2e/x', /'\.\.'/],
    ['.%2e/x', /'\.\.'/],
    ['%252e%252e/x', /'\.\.'/],
    ['%25252e%25252e/x', /'\.\.'/],
    ['%2fetc/passwd', /encoded separator/],
    ['..%2fx', /encoded separator/],
    ['a%2Fb', /encoded separator/],
    ['a%252fb', /encoded separator/],
    ['a%5cb', /encoded separator/],
    ['a%00b', /NUL/],
    ['%zz/%2e%2e/x', /'\.\.'/],
    ['%' + '25'.repeat(20) + '2e', /too many times/],
  ])('refuses %j', (key, message) => {
    let error: unknown;
    try {
      checkKey(key);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message });
    expect((error as Error).message).toContain('Invalid artifact path');
  });

  it('joinKey validates every part and joins with /', () => {
    expect(joinKey('runs', 'r1/artifacts', 'model/')).toBe('runs/r1/artifacts/model');
    expect(() => joinKey('runs', '..', 'x')).toThrow(/'\.\.'/);
    expect(() => joinKey('runs', '')).toThrow(/empty/);
  });
});

describe('openBlobStore', () => {
  it('accepts file:// URIs and bare absolute paths, reporting a file:// uri', async () => {
    const dir = await tempDir();
    const byUri = await openBlobStore(pathToFileURL(join(dir, 'u')).href);
    const byPath = await openBlobStore(join(dir, 'p'));
    expect(byUri.uri).toBe(pathToFileURL(join(dir, 'u')).href);
    expect(byPath.uri).toBe(pathToFileURL(join(dir, 'p')).href);
    await byUri.put('k', 'v');
    expect(await readFile(join(dir, 'u', 'k'), 'utf8')).toBe('v');
  });

  it.each(['relative/path', 'gs://bucket/x', 'file://otherhost/x', 's3://', 's3:///x', 's3://bucket/../x'])('refuses %j', async (uri) => {
    await expect(openBlobStore(uri)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('fs backend', () => {
  let base: string;
  let root: string;
  let store: BlobStore;

  beforeEach(async () => {
    base = await tempDir();
    root = join(base, 'root');
    store = await openBlobStore(root);
  });

  afterEach(async () => {
    await store.close();
  });

  it('writes the object under the root, creating parent directories', async () => {
    await store.put('a/b/c.txt', 'abc');
    expect(await readFile(join(root, 'a', 'b', 'c.txt'), 'utf8')).toBe('abc');
  });

  it('never exposes a partial object: the body goes to a hidden temp file first', async () => {
    await store.put('model.bin', 'v1');
    const body = new PassThrough();
    const putting = store.put('model.bin', body);
    body.write('half of v2');
    const temp = /^\.model\.bin\.[0-9a-f]{16}\.tmp$/;
    await vi.waitFor(async () => expect((await tree(root)).some((p) => temp.test(p))).toBe(true));
    expect(await text(await store.get('model.bin'))).toBe('v1');
    expect(await store.list('')).toEqual([{ path: 'model.bin', isDir: false, size: 2 }]);
    body.end(', rest');
    expect(await putting).toEqual({ size: 16 });
    expect(await text(await store.get('model.bin'))).toBe('half of v2, rest');
    expect(await tree(root)).toEqual(['model.bin']);
  });

  it('removes the temp file and new empty directories when the body stream fails', async () => {
    await store.put('keep/old.txt', 'old');
    const failing = (): Readable =>
      Readable.from(
        (async function* () {
          yield Buffer.from('partial');
          throw new Error('upstream reset');
        })(),
      );
    await expect(store.put('keep/old.txt', failing())).rejects.toThrow('upstream reset');
    await expect(store.put('new/deep/dir/file.txt', failing())).rejects.toThrow('upstream reset');
    expect(await tree(root)).toEqual(['keep', 'keep/old.txt']);
    expect(await text(await store.get('keep/old.txt'))).toBe('old');
  });

  it('refuses to write a file where a directory is, or below a file', async () => {
    await store.put('d/f.txt', 'x');
    await expect(store.put('d', 'y')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(store.put('d/f.txt/g', 'y')).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await tree(root)).toEqual(['d', 'd/f.txt']);
  });

  it('prunes emptied directories up to, not including, the root', async () => {
    await store.put('x/y/z/file.txt', '1');
    await store.delete('x/y/z/file.txt');
    expect(await tree(root)).toEqual([]);
    expect(await store.list('')).toEqual([]);
    await store.put('again.txt', 'root still usable');
  });

  it('reads a range straight from the file', async () => {
    await store.put('r', 'abcdefghij');
    expect(await text(await store.get('r', { start: 0, end: 0 }))).toBe('a');
    expect(await text(await store.get('r', { start: 9 }))).toBe('j');
    await expect(store.get('r', { start: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.get('r', { start: 1.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.get('missing', { start: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('does not follow a symlink out of the root', async () => {
    const outside = join(base, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await symlink(outside, join(root, 'escape'));
    await expect(store.get('escape/secret.txt')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(store.stat('escape/secret.txt')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(store.put('escape/planted.txt', 'x')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(store.put('escape/new/dir/planted.txt', 'x')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(store.delete('escape/secret.txt')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(store.list('escape')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await store.list('')).toEqual([]);
    expect(await readdir(outside)).toEqual(['secret.txt']);
    // Deleting the link itself removes the link, never the target.
    await store.delete('escape');
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('follows a symlink that stays inside the root, without looping', async () => {
    await store.put('real/file.txt', 'in');
    await symlink(join(root, 'real'), join(root, 'alias'));
    await symlink(root, join(root, 'real', 'loop'));
    expect(await text(await store.get('alias/file.txt'))).toBe('in');
    expect(await store.stat('alias')).toEqual({ size: 0, isDir: true });
    // Each real directory is walked once, through whichever name is reached first.
    const paths: string[] = [];
    for await (const entry of store.listRecursive('')) paths.push(entry.path);
    expect(paths).toHaveLength(1);
    expect(paths[0]).toMatch(/^(real|alias)\/file\.txt$/);
  });

  it('hides in-flight temp files from listings', async () => {
    await store.put('d/visible.txt', 'v');
    await writeFile(join(root, 'd', '.visible.txt.0123456789abcdef.tmp'), 'partial');
    expect(await store.list('d')).toEqual([{ path: 'visible.txt', isDir: false, size: 1 }]);
    const paths: string[] = [];
    for await (const entry of store.listRecursive('d')) paths.push(entry.path);
    expect(paths).toEqual(['visible.txt']);
  });

  describe('staging (direct uploads)', () => {
    const staging = () => {
      if (!store.staging) throw new Error('a filesystem store has staging');
      return store.staging;
    };

    it('opens a private folder with a token beside it, hidden from listings', async () => {
      await store.put('kept.txt', 'k');
      const upload = await staging().open();
      expect(upload.id).toMatch(/^[0-9a-f]{32}$/);
      expect(await readFile(upload.tokenFile, 'utf8')).toBe(upload.token);
      expect((await stat(upload.dir)).mode & 0o777).toBe(0o700);
      expect(await store.list('')).toEqual([{ path: 'kept.txt', isDir: false, size: 1 }]);
      const paths: string[] = [];
      for await (const entry of store.listRecursive('')) paths.push(entry.path);
      expect(paths).toEqual(['kept.txt']);
    });

    it('publishes staged files under their keys and removes the folder', async () => {
      const upload = await staging().open();
      await mkdir(join(upload.dir, 'sub'), { recursive: true });
      await writeFile(join(upload.dir, 'a.txt'), 'alpha');
      await writeFile(join(upload.dir, 'sub', 'b.txt'), 'bravo!');
      await staging().publish(upload.id, [
        { path: 'a.txt', key: 'ws/content/h/a.txt', size: 5 },
        { path: 'sub/b.txt', key: 'ws/content/h/sub/b.txt', size: 6 },
      ]);
      expect(await text(await store.get('ws/content/h/a.txt'))).toBe('alpha');
      expect(await text(await store.get('ws/content/h/sub/b.txt'))).toBe('bravo!');
      expect(await readdir(join(root, '.uploads'))).toEqual([]);
    });

    it('refuses a missing file, a wrong size, a link or a hard-linked file before moving any', async () => {
      const upload = await staging().open();
      await writeFile(join(upload.dir, 'ok.txt'), 'fine');
      const cases: [string, () => Promise<void>, number, RegExp][] = [
        ['gone.txt', async () => undefined, 1, /'gone.txt' is missing/],
        ['short.txt', () => writeFile(join(upload.dir, 'short.txt'), 'abc'), 4, /'short.txt' is 3 bytes, not 4/],
        ['link.txt', () => symlink(join(base, 'outside.txt'), join(upload.dir, 'link.txt')), 0, /not a regular file/],
        ['hard.txt', async () => {
          await writeFile(join(base, 'mine.txt'), 'mine');
          await link(join(base, 'mine.txt'), join(upload.dir, 'hard.txt'));
        }, 4, /other hard links/],
      ];
      await writeFile(join(base, 'outside.txt'), '');
      for (const [path, make, size, message] of cases) {
        await make();
        const err = staging().publish(upload.id, [
          { path: 'ok.txt', key: 'ws/content/h/ok.txt', size: 4 },
          { path, key: `ws/content/h/${path}`, size },
        ]);
        await expect(err).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) as unknown });
      }
      // A file under a linked folder (the link leads out of the staging folder).
      await mkdir(join(base, 'elsewhere'));
      await writeFile(join(base, 'elsewhere', 'x.txt'), 'xx');
      await symlink(join(base, 'elsewhere'), join(upload.dir, 'linked'));
      await expect(staging().publish(upload.id, [{ path: 'linked/x.txt', key: 'ws/content/h/linked/x.txt', size: 2 }])).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/under a linked folder/) as unknown,
      });
      expect(await readFile(join(base, 'elsewhere', 'x.txt'), 'utf8')).toBe('xx');
      // Nothing moved: the good file is still staged, nothing is stored.
      expect(await readFile(join(upload.dir, 'ok.txt'), 'utf8')).toBe('fine');
      expect(await store.stat('ws')).toBeNull();
    });

    it('refuses an id it did not make, discards a folder, and sweeps abandoned ones on open', async () => {
      await expect(staging().publish('../../etc', [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/Invalid direct upload id/) as unknown });
      await expect(staging().discard('x/../..')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      const dropped = await staging().open();
      await staging().discard(dropped.id);
      expect(await readdir(join(root, '.uploads'))).toEqual([]);

      const old = await staging().open();
      const day = new Date(Date.now() - 25 * 60 * 60 * 1000);
      await utimes(join(root, '.uploads', old.id), day, day);
      const fresh = await staging().open();
      expect(await readdir(join(root, '.uploads'))).toEqual([fresh.id]);
    });
  });
});
