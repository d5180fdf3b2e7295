/**
 * How the built `lapis` command starts (src/cli/lapis.ts): the client bundle runs through V8's code
 * cache, which it writes when it has none or V8 refuses it, and never lets a cache stop a command;
 * without a bundle the program runs as modules, and `lapis server` never runs the bundle. Each test
 * runs a copy of the built entry and bundle in its own folder, so the build's own cache is never
 * touched.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let home: string;
let dir: string;
let cache: string;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'lapis-cli-bundle-'));
  dir = join(home, 'dist/cli');
  // The bundle finds package.json two folders up, as in the package.
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(home, 'package.json'));
  for (const f of ['lapis.js', 'client.cjs']) copyFileSync(join(ROOT, 'dist/cli', f), join(dir, f));
  cache = join(dir, 'client.cjs.cache');
});

afterEach(() => rmSync(home, { recursive: true, force: true }));

function lapis(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [join(dir, 'lapis.js'), ...args], { encoding: 'utf8', env: { ...process.env, LAPIS_CONFIG_DIR: join(home, 'config') } });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** The cache file's stamp (its first line) and V8's data after it. */
function readCache(): { stamp: string; data: Buffer } {
  const file = readFileSync(cache);
  const newline = file.indexOf(10);
  return { stamp: file.toString('utf8', 0, newline), data: file.subarray(newline + 1) };
}

describe('the lapis command through its code cache', () => {
  it('writes the cache on its first run, stamped with a hash of the bundle, and uses it as it is afterwards', () => {
    expect(() => statSync(cache)).toThrow();
    expect(lapis('--version')).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    const first = readCache();
    expect(first.stamp).toMatch(/^[0-9a-f]{64}$/);
    // V8's data: far more than a header.
    expect(first.data.length).toBeGreaterThan(50_000);

    const inode = statSync(cache).ino;
    const second = lapis('data', 'create', '-f', join(home, 'missing.yml'));
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`The data YAML file ${join(home, 'missing.yml')} does not exist.`);
    // Accepted: not replaced (a rewrite renames a new file into place).
    expect(statSync(cache).ino).toBe(inode);
    expect(readdirSync(dir).sort()).toEqual(['client.cjs', 'client.cjs.cache', 'lapis.js']);
  });

  it('never uses a cache made for another build of the bundle, and replaces it', () => {
    lapis('--version');
    const old = readCache();
    // A rebuilt bundle, of the same length: V8 alone would take the old cache for it.
    const source = readFileSync(join(dir, 'client.cjs'), 'utf8');
    expect(source).toContain('// src/cli/program.ts\n');
    writeFileSync(join(dir, 'client.cjs'), source.replace('// src/cli/program.ts\n', '// src/cli/PROGRAM.ts\n'));
    expect(lapis('--version')).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    const next = readCache();
    expect(next.stamp).toMatch(/^[0-9a-f]{64}$/);
    expect(next.stamp).not.toBe(old.stamp);
  });

  it('runs when V8 refuses the cache (damaged, or from another Node), and writes a good one', () => {
    lapis('--version');
    const { stamp } = readCache();
    writeFileSync(cache, Buffer.concat([Buffer.from(`${stamp}\n`), Buffer.alloc(4096, 7)]));
    expect(lapis('--version')).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    const rewritten = readCache();
    expect(rewritten.stamp).toBe(stamp);
    expect(rewritten.data.length).toBeGreaterThan(50_000);
    expect(rewritten.data.subarray(0, 4096).equals(Buffer.alloc(4096, 7))).toBe(false);
  });

  it('runs without a cache where it cannot write one, and leaves nothing behind', () => {
    // A folder in the cache's place: it cannot be read as a cache nor replaced by one (root ignores file modes).
    mkdirSync(cache);
    expect(lapis('--version')).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    expect(statSync(cache).isDirectory()).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['client.cjs', 'client.cjs.cache', 'lapis.js']);
  });
});

describe('without the bundle, and for the server', () => {
  // The built modules, reached through links (Node resolves a module's imports from its real path).
  const link = (name: string): void => symlinkSync(join(ROOT, 'dist/cli', name), join(dir, name));

  it('runs the program as modules when the build wrote no bundle, and writes no cache', () => {
    rmSync(join(dir, 'client.cjs'));
    link('program.js');
    expect(lapis('--version')).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    expect(() => statSync(cache)).toThrow();
  });

  it('`lapis server` runs the modules, never the bundle', () => {
    writeFileSync(join(dir, 'client.cjs'), "throw new Error('the bundle ran');\n");
    link('main.js');
    const other = lapis('--version');
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('the bundle ran');
    const server = lapis('server', '--help');
    expect(server).toMatchObject({ code: 0, stderr: '' });
    expect(server.stdout).toContain('Start the Lapis server');
  });
});
