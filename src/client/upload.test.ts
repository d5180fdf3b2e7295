import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manifestHash as serverManifestHash } from '../registry/content.js';
import { hashFile, hashFiles } from './hashing.js';
import { LapisClient } from './index.js';
import { isIgnored, listLocalFiles, manifestHash, parseIgnore, putFile, uploadContent } from './upload.js';

const ignored = (patterns: string, path: string, isDir = false, base = ''): boolean => isIgnored(parseIgnore(patterns, base), path, isDir);

describe('ignore patterns (.amlignore / .gitignore)', () => {
  it('matches a bare name at any depth, a slashed pattern from the ignore file only', () => {
    expect(ignored('*.log', 'a.log')).toBe(true);
    expect(ignored('*.log', 'deep/er/a.log')).toBe(true);
    expect(ignored('*.log', 'a.log.txt')).toBe(false);
    expect(ignored('/build', 'build', true)).toBe(true);
    expect(ignored('/build', 'src/build', true)).toBe(false);
    expect(ignored('docs/*.md', 'docs/a.md')).toBe(true);
    expect(ignored('docs/*.md', 'x/docs/a.md')).toBe(false);
    expect(ignored('docs/*.md', 'docs/sub/a.md')).toBe(false);
  });

  it('handles **, ?, classes, directory-only patterns, comments and negation', () => {
    expect(ignored('**/cache', 'a/b/cache', true)).toBe(true);
    expect(ignored('**/cache', 'cache', true)).toBe(true);
    expect(ignored('logs/**', 'logs/a/b.txt')).toBe(true);
    expect(ignored('a/**/z', 'a/z')).toBe(true);
    expect(ignored('a/**/z', 'a/b/c/z')).toBe(true);
    expect(ignored('file?.txt', 'file1.txt')).toBe(true);
    expect(ignored('file?.txt', 'file10.txt')).toBe(false);
    expect(ignored('[ab].csv', 'b.csv')).toBe(true);
    expect(ignored('[!ab].csv', 'b.csv')).toBe(false);
    expect(ignored('tmp/', 'tmp', true)).toBe(true);
    expect(ignored('tmp/', 'tmp', false)).toBe(false);
    expect(ignored('# comment\n\n*.bin\n!keep.bin', 'keep.bin')).toBe(false);
    expect(ignored('# comment\n\n*.bin\n!keep.bin', 'drop.bin')).toBe(true);
    expect(ignored('\\#hash', '#hash')).toBe(true);
    expect(ignored('a.txt   ', 'a.txt')).toBe(true);
  });

  it('scopes a nested ignore file to its folder', () => {
    expect(ignored('*.csv', 'sub/a.csv', false, 'sub')).toBe(true);
    expect(ignored('*.csv', 'a.csv', false, 'sub')).toBe(false);
    expect(ignored('/only', 'sub/only', false, 'sub')).toBe(true);
    expect(ignored('/only', 'sub/x/only', false, 'sub')).toBe(false);
  });
});

describe('local files', () => {
  let root: string;
  const put = async (path: string, text: string): Promise<void> => {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'lapis-upload-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('walks a folder in path order, honouring .amlignore over .gitignore, nested ignore files and .git', async () => {
    await put('.gitignore', '*.csv\n');
    await put('.amlignore', '*.log\nbuild/\n!keep.log\n');
    await put('a.csv', 'a');
    await put('b.log', 'b');
    await put('keep.log', 'k');
    await put('build/out.bin', 'x');
    await put('src/main.py', 'print(1)');
    await put('src/.gitignore', 'gen/\n');
    await put('src/gen/x.py', 'x');
    await put('.git/HEAD', 'ref');
    await symlink(root, join(root, 'src', 'loop'));
    const files = await listLocalFiles(root);
    expect(files.map((f) => f.path)).toEqual(['.amlignore', '.gitignore', 'a.csv', 'keep.log', 'src/.gitignore', 'src/main.py']);
    expect(files.find((f) => f.path === 'src/main.py')).toMatchObject({ local: join(root, 'src', 'main.py'), size: 8 });
  });

  it('lists a single file under its own name', async () => {
    await put('data/one.csv', 'x,y\n1,2\n');
    expect(await listLocalFiles(join(root, 'data', 'one.csv'))).toEqual([{ path: 'one.csv', local: join(root, 'data', 'one.csv'), size: 8 }]);
  });

  it('hashes files as streams, and the manifest hash matches the server', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'z');
    await writeFile(join(root, 'big.bin'), big);
    const h = await hashFile(join(root, 'big.bin'));
    expect(h).toEqual({ sha256: createHash('sha256').update(big).digest('hex'), size: big.length });
    const files = [
      { path: 'b/x.txt', sha256: 'a'.repeat(64), size: 3 },
      { path: 'a.txt', sha256: 'b'.repeat(64), size: 0 },
    ];
    expect(manifestHash(files)).toBe(serverManifestHash(files));
    expect(manifestHash(files)).toBe(manifestHash([...files].reverse()));
  });

  it('hashes a large upload on worker threads, answers in input order, and reports a file that went missing', async () => {
    // 65 MiB in all: past the size from which hashFiles starts workers.
    const bodies = [Buffer.alloc(40 << 20, 'a'), Buffer.alloc(25 << 20, 'b'), Buffer.from('tail')];
    const local = await Promise.all(
      bodies.map(async (b, i) => {
        await writeFile(join(root, `f${i}`), b);
        return { local: join(root, `f${i}`), size: b.length };
      }),
    );
    expect(await hashFiles(local)).toEqual(bodies.map((b) => ({ sha256: createHash('sha256').update(b).digest('hex'), size: b.length })));
    await rm(join(root, 'f2'));
    await expect(hashFiles(local)).rejects.toMatchObject({ code: 'ENOENT' });
    const stopped = new AbortController();
    stopped.abort(new Error('stopped'));
    await expect(hashFiles(local, stopped.signal)).rejects.toThrow('stopped');
  });
});

describe('putFile', () => {
  it('streams the file with its size, hash and token, and turns an error answer into the server\'s error', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lapis-put-'));
    const body = Buffer.alloc(3 << 20, 'q');
    await writeFile(join(root, 'x.bin'), body);
    const seen: { url?: string; headers?: http.IncomingHttpHeaders; bytes?: Buffer } = {};
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        Object.assign(seen, { url: req.url, headers: req.headers, bytes: Buffer.concat(chunks) });
        if (req.url?.includes('refused')) res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'INVALID_ARGUMENT', message: 'hash mismatch' } }));
        else res.end(JSON.stringify({ path: 'd/x.bin', size: chunks.reduce((n, c) => n + c.length, 0) }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new LapisClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, workspace: 'w', token: 'tok' });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const file = { path: 'd/x.bin', local: join(root, 'x.bin'), sha256: 'c'.repeat(64), size: body.length };
      let progress = 0;
      expect(await putFile(client, agent, 'a'.repeat(64), file, { onBytes: (n) => (progress += n) })).toEqual({ path: 'd/x.bin', size: body.length });
      expect(seen.url).toBe(`/workspaces/w/api/v1/content/${'a'.repeat(64)}/files/d/x.bin`);
      expect(seen.headers).toMatchObject({ authorization: 'Bearer tok', 'x-lapis-sha256': 'c'.repeat(64), 'content-length': String(body.length) });
      expect(seen.bytes?.equals(body)).toBe(true);
      expect(progress).toBe(body.length);
      await expect(putFile(client, agent, 'b'.repeat(64), { ...file, path: 'refused.bin' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'hash mismatch' });
    } finally {
      agent.destroy();
      server.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('uploadContent with a hash cache', () => {
  // A stand-in server (node:http) that holds nothing and accepts every file; what is under test is
  // which files the client reads, and that one written during the upload is refused.
  async function standIn(onOpen?: () => void): Promise<{ client: LapisClient; puts: string[]; close: () => void }> {
    const puts: string[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.method === 'PUT') puts.push(decodeURIComponent(req.url?.split('/files/')[1] ?? ''));
        if (req.method === 'GET') res.end(JSON.stringify({ exists: false }));
        else if (req.url?.endsWith('/content/uploads')) {
          onOpen?.();
          res.end(JSON.stringify({ direct: false, reason: 'stand-in' }));
        }
        else res.end(JSON.stringify({ hash: 'h', size: 1, files: 1 }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { client: new LapisClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }), puts, close: () => server.close() };
  }

  it('reuses remembered hashes for unchanged files (same manifest), and hashes a rewritten one again', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lapis-cache-up-'));
    const { client, close } = await standIn();
    try {
      await mkdir(join(root, 'data'));
      await writeFile(join(root, 'data', 'a.txt'), 'alpha');
      await writeFile(join(root, 'data', 'b.txt'), 'bravo');
      // Files written less than 2 s before they are read are not remembered (see HashCache).
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const opts = { hashCache: join(root, 'cache.json'), log: () => undefined, progressBar: false };
      const first = await uploadContent(client, join(root, 'data'), opts);
      expect(first.files.map((f) => f.sha256)).toEqual([createHash('sha256').update('alpha').digest('hex'), createHash('sha256').update('bravo').digest('hex')]);
      const cached = JSON.parse(await readFile(join(root, 'cache.json'), 'utf8')) as { entries: Record<string, unknown[]> };
      expect(Object.values(cached.entries).map((e) => e[3]).sort()).toEqual(first.files.map((f) => f.sha256).sort());

      // A remembered hash is used as is: poison one entry, and the manifest carries the poisoned hash.
      const aKey = Object.keys(cached.entries).find((k) => cached.entries[k]?.[3] === first.files[0]?.sha256) as string;
      (cached.entries[aKey] as unknown[])[3] = 'f'.repeat(64);
      await writeFile(join(root, 'cache.json'), JSON.stringify(cached));
      const second = await uploadContent(client, join(root, 'data'), opts);
      expect(second.files[0]?.sha256).toBe('f'.repeat(64));
      // Rewritten (same size): read and hashed again.
      await writeFile(join(root, 'data', 'a.txt'), 'ALPHA');
      const third = await uploadContent(client, join(root, 'data'), opts);
      expect(third.files[0]?.sha256).toBe(createHash('sha256').update('ALPHA').digest('hex'));
    } finally {
      close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses a file that is written while it is being hashed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lapis-cache-up-'));
    const big = join(root, 'data', 'big.bin');
    // 64 MiB or more: the client asks for a direct upload while it hashes, after it noted each
    // file's version and before it checks them again; the stand-in writes to the file right then.
    const { client, puts, close } = await standIn(() => appendFileSync(big, 'more'));
    try {
      await mkdir(join(root, 'data'));
      await writeFile(big, Buffer.alloc(80 << 20, 1));
      await expect(uploadContent(client, join(root, 'data'), { log: () => undefined, progressBar: false })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/big\.bin changed while it was being uploaded/) as unknown,
      });
      expect(puts).toEqual([]);
    } finally {
      close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('direct uploads: when the client cannot use the staging folder', () => {
  // A stand-in server (node:http) that offers a direct upload whose token file this client reads
  // back wrong, as a client on another machine with the same path would: the files must go over
  // HTTP and the offered staging folder be given back. The real server's side is in the
  // integration suite (test/integration/assets.test.ts).
  it('gives the staging folder back and sends the files over HTTP', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lapis-direct-'));
    await mkdir(join(root, 'data'));
    await writeFile(join(root, 'data', 'a.txt'), 'alpha');
    await writeFile(join(root, 'token'), 'not the token');
    const calls: string[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        calls.push(`${req.method} ${req.url?.replace(/[0-9a-f]{64}/, '<hash>')}`);
        res.setHeader('content-type', 'application/json');
        if (req.url?.includes('/api/v1/content/uploads') && req.method === 'POST') res.end(JSON.stringify({ direct: true, id: 'f'.repeat(32), dir: join(root, 'staged'), tokenFile: join(root, 'token'), token: 'the token' }));
        else if (req.method === 'DELETE') res.writeHead(204).end();
        else if (req.method === 'GET') res.end(JSON.stringify({ exists: false }));
        else if (req.method === 'PUT') res.end(JSON.stringify({ path: 'a.txt', size: 5 }));
        else res.end(JSON.stringify({ hash: 'h', size: 5, files: 1 }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new LapisClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, workspace: 'w' });
    try {
      const result = await uploadContent(client, join(root, 'data'), { log: () => undefined, progressBar: false });
      expect(result).toMatchObject({ reused: false, transfer: 'http', size: 5 });
      expect(calls).toEqual([
        'GET /workspaces/w/api/v1/content/<hash>',
        'POST /workspaces/w/api/v1/content/uploads',
        `DELETE /workspaces/w/api/v1/content/uploads/${'f'.repeat(32)}`,
        'PUT /workspaces/w/api/v1/content/<hash>/files/a.txt',
        'POST /workspaces/w/api/v1/content/<hash>/commit',
      ]);
    } finally {
      server.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

