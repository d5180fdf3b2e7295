/**
 * How the built `lapis` command starts (src/cli/lapis.ts): the client bundle runs through V8's code
 * cache, which it writes when it has none or V8 refuses it, and never lets a cache stop a command.
 * Each test runs a copy of the built entry and bundle in its own folder, so the build's own cache
 * is never touched.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let home: string;
let cli: string;
let cache: string;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'lapis-cli-bundle-'));
  // The bundle finds package.json two folders up, as in the package.
  mkdirSync(join(home, 'dist/cli'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(home, 'package.json'));
  for (const f of ['lapis.js', 'client.cjs']) copyFileSync(join(ROOT, 'dist/cli', f), join(home, 'dist/cli', f));
  cli = join(home, 'dist/cli/lapis.js');
  cache = join(home, 'dist/cli/client.cjs.cache');
});

afterEach(() => rmSync(home, { recursive: true, force: true }));

function lapis(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, LAPIS_CONFIG_DIR: join(home, 'config') } });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

const stampOf = (file: string): string => {
  const s = statSync(file);
  return `${s.size}:${s.mtimeMs}`;
};

describe('the lapis command through its code cache', () => {
  it('writes the cache on its first run, stamped with the bundle, and uses it as it is afterwards', () => {
    expect(() => statSync(cache)).toThrow();
    const first = lapis('--version');
    expect(first).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    const written = readFileSync(cache);
    const newline = written.indexOf(10);
    expect(written.toString('utf8', 0, newline)).toBe(stampOf(join(home, 'dist/cli/client.cjs')));
    // V8's data follows the stamp: far more than a header.
    expect(written.length - newline).toBeGreaterThan(50_000);

    const before = statSync(cache).mtimeMs;
    const second = lapis('data', 'create', '-f', join(home, 'missing.yml'));
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`The data YAML file ${join(home, 'missing.yml')} does not exist.`);
    // Accepted: not written again.
    expect(statSync(cache).mtimeMs).toBe(before);
    expect(readdirSync(join(home, 'dist/cli')).sort()).toEqual(['client.cjs', 'client.cjs.cache', 'lapis.js']);
  });

  it('ignores a cache written for another build of the bundle, and replaces it', () => {
    lapis('--version');
    // The same bundle touched: a rebuild as far as the stamp knows.
    const later = new Date(statSync(join(home, 'dist/cli/client.cjs')).mtimeMs + 5_000);
    utimesSync(join(home, 'dist/cli/client.cjs'), later, later);
    expect(lapis('--version')).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    expect(readFileSync(cache).toString('utf8', 0, readFileSync(cache).indexOf(10))).toBe(stampOf(join(home, 'dist/cli/client.cjs')));
  });

  it('runs when V8 refuses the cache (damaged, or from another Node), and writes a good one', () => {
    writeFileSync(cache, Buffer.concat([Buffer.from(`${stampOf(join(home, 'dist/cli/client.cjs'))}\n`), Buffer.alloc(4096, 7)]));
    expect(lapis('--version')).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    const rewritten = readFileSync(cache);
    expect(rewritten.length).toBeGreaterThan(50_000);
    expect(rewritten.subarray(rewritten.indexOf(10) + 1, rewritten.indexOf(10) + 1 + 4096).equals(Buffer.alloc(4096, 7))).toBe(false);
  });

  it('runs without a cache where it cannot write one, and leaves nothing behind', () => {
    // A folder in the cache's place: it cannot be read as a cache nor replaced by one (root ignores file modes).
    mkdirSync(cache);
    expect(lapis('--version')).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    expect(statSync(cache).isDirectory()).toBe(true);
    expect(readdirSync(join(home, 'dist/cli')).sort()).toEqual(['client.cjs', 'client.cjs.cache', 'lapis.js']);
  });
});
