#!/usr/bin/env node
/**
 * The `lapis` command.
 *
 * `lapis server` runs the program as separate modules (./main.js): the server then has a single
 * copy of every module, and finds its files (Python hosts, the studio) beside them.
 *
 * Every other command runs the client bundle the build writes beside this file (client.cjs: the
 * program and all it imports in one CommonJS file, scripts/bundle-cli.mjs), which starts in half
 * the time of loading ~300 modules one by one. It is compiled through V8's code cache, kept in
 * client.cjs.cache: compiling its 1 MB cost every command ~20 ms. Without a bundle (running from
 * the sources, or a build that stopped before bundling: it removes the old bundle first) the
 * program is imported as modules.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const BUNDLE_URL = new URL('./client.cjs', import.meta.url);
const BUNDLE = fileURLToPath(BUNDLE_URL);
const CACHE = `${BUNDLE}.cache`;

/** What the bundle gets from this module: its URL (for `import.meta.url`) and the server's loader (a script run by `vm` cannot import). */
interface BundleHost {
  moduleUrl: string;
  loadServer: () => Promise<unknown>;
}

/** Runs the client bundle; false when the build wrote none. */
function runBundle(): boolean {
  let source: string;
  try {
    source = readFileSync(BUNDLE, 'utf8');
  } catch {
    return false;
  }
  const code = `(function (exports, require, module, __filename, __dirname, __lapisHost) {${source}\n})`;
  // V8 checks only the length of the code a cache was made from: the stamp is the code's hash, so
  // a cache from another build is never run (and one the build shipped still fits once installed).
  const stamp = createHash('sha256').update(code).digest('hex');
  const cachedData = readCache(stamp);
  const script = new Script(code, { filename: BUNDLE, ...(cachedData ? { cachedData } : {}) });
  // V8 refuses a cache from another version of itself or other flags. A new one is written as the
  // process exits, so that it holds the functions this command compiled as it ran, too.
  if (!cachedData || script.cachedDataRejected) process.once('exit', () => writeCache(stamp, script));
  const host: BundleHost = { moduleUrl: BUNDLE_URL.href, loadServer: async () => (await import('./load-server.js')).loadServer() };
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE), host);
  return true;
}

/** The cache file is the stamp, a newline, then V8's data. */
function readCache(stamp: string): Buffer | undefined {
  try {
    const file = readFileSync(CACHE);
    const end = file.indexOf(10);
    return end > 0 && file.toString('utf8', 0, end) === stamp ? file.subarray(end + 1) : undefined;
  } catch {
    return undefined;
  }
}

/** Best effort: a folder this user cannot write (a shared install) just means no cache. */
function writeCache(stamp: string, script: Script): void {
  const temp = `${CACHE}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, Buffer.concat([Buffer.from(`${stamp}\n`), script.createCachedData()]));
    renameSync(temp, CACHE);
  } catch {
    try {
      rmSync(temp, { force: true });
    } catch {
      // An exception here would change the command's exit code.
    }
  }
}

if (process.argv[2] === 'server') await import('./main.js');
else if (!runBundle()) await import('./program.js');
