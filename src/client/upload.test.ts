import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manifestHash as serverManifestHash } from '../registry/content.js';
import { hashFile, isIgnored, listLocalFiles, manifestHash, parseIgnore } from './upload.js';

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
});
