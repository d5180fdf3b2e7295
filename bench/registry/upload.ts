import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, relative, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import { pool } from '../lib/load.js';

/**
 * The content-upload side of the registry benchmark: the test folder, a client for Lapis's native
 * content API (hash → PUT files → commit, as documented in src/registry/content.ts) and the disk
 * copy it is compared with.
 */

export interface LocalFile {
  /** Path inside the folder, with '/' separators (the upload's file path). */
  path: string;
  abs: string;
  size: number;
}

export interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
}

/** Same rule as src/registry/content.ts manifestHash (kept here: the bench talks HTTP only). */
export function manifestHash(files: readonly ManifestFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) h.update(`${f.path}\0${f.sha256}\0${f.size}\n`);
  return h.digest('hex');
}

/**
 * Writes `bigFiles` files of `bigBytes` random bytes (fresh random data per 8 MiB block, so
 * nothing compresses or dedupes) plus a few small files into `dir`.
 */
export async function makeUploadFolder(dir: string, bigFiles: number, bigBytes: number): Promise<LocalFile[]> {
  const { randomFillSync } = await import('node:crypto');
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'meta'), { recursive: true });
  const block = Buffer.allocUnsafe(8 << 20);
  for (let i = 0; i < bigFiles; i++) {
    const fd = openSync(join(dir, 'data', `part-${String(i).padStart(2, '0')}.bin`), 'w');
    try {
      for (let written = 0; written < bigBytes; ) {
        const n = Math.min(block.length, bigBytes - written);
        randomFillSync(block, 0, n);
        let off = 0;
        while (off < n) off += writeSync(fd, block, off, n - off);
        written += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  writeFileSync(join(dir, 'README.md'), '# bench dataset\n\nRandom bytes for the Lapis registry benchmark.\n');
  writeFileSync(join(dir, 'meta', 'schema.json'), JSON.stringify({ columns: Array.from({ length: 50 }, (_, i) => ({ name: `c${i}`, type: 'float32' })) }, null, 2));
  writeFileSync(join(dir, 'meta', 'stats.csv'), Array.from({ length: 2000 }, (_, i) => `${i},${Math.sin(i)},${Math.cos(i)}`).join('\n'));
  return listFiles(dir);
}

export function listFiles(dir: string): LocalFile[] {
  const out: LocalFile[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const abs = join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.isFile()) out.push({ path: relative(dir, abs).split(sep).join('/'), abs, size: statSync(abs).size });
    }
  };
  walk(dir);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

// Streaming SHA-256 of one file per message, in a worker thread (CommonJS: eval'd source).
const HASH_WORKER = `
const { parentPort } = require('node:worker_threads');
const { createReadStream } = require('node:fs');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ id, path }) => {
  const h = createHash('sha256');
  let size = 0;
  createReadStream(path, { highWaterMark: 1 << 20 })
    .on('data', (c) => { h.update(c); size += c.length; })
    .on('end', () => parentPort.postMessage({ id, sha256: h.digest('hex'), size }))
    .on('error', (e) => parentPort.postMessage({ id, error: String(e) }));
});
`;

/** Hashes files streaming from disk on `threads` worker threads (the client's cores). */
export async function hashFiles(files: readonly LocalFile[], threads: number): Promise<ManifestFile[]> {
  const workers = Array.from({ length: Math.max(1, Math.min(threads, files.length)) }, () => new Worker(HASH_WORKER, { eval: true }));
  try {
    const out: ManifestFile[] = new Array(files.length);
    let next = 0;
    await Promise.all(
      workers.map(async (w) => {
        while (next < files.length) {
          const id = next++;
          const f = files[id] as LocalFile;
          const res = await new Promise<{ sha256?: string; size?: number; error?: string }>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
            w.postMessage({ id, path: f.abs });
          });
          w.removeAllListeners('error');
          if (res.error || res.sha256 === undefined) throw new Error(`hashing ${f.path}: ${res.error}`);
          if (res.size !== f.size) throw new Error(`${f.path} changed size while hashing`);
          out[id] = { path: f.path, sha256: res.sha256, size: f.size };
        }
      }),
    );
    return out;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export interface UploadTiming {
  bytes: number;
  files: number;
  hash: string;
  totalMs: number;
  hashMs: number;
  putMs: number;
  commitMs: number;
}

function request(agent: http.Agent, url: URL, method: string, path: string, headers: http.OutgoingHttpHeaders, body?: Buffer | NodeJS.ReadableStream): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(300_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (body === undefined || Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (e) => req.destroy(e as Error));
      body.pipe(req);
    }
  });
}

/**
 * One end-to-end content upload, as a client does it: hash every file (streaming, on `hashThreads`
 * threads), derive the manifest hash, PUT the files `concurrency` at a time, each streamed from
 * disk with its SHA-256 in `x-lapis-sha256`, then commit the file list.
 */
export async function uploadToLapis(baseUrl: string, files: readonly LocalFile[], opts: { concurrency: number; hashThreads: number }): Promise<UploadTiming> {
  const url = new URL(baseUrl);
  if (url.hostname !== '127.0.0.1') throw new Error('loopback only');
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  try {
    const t0 = performance.now();
    const manifest = await hashFiles(files, opts.hashThreads);
    const hash = manifestHash(manifest);
    const t1 = performance.now();
    await pool(files, opts.concurrency, async (f, i) => {
      const m = manifest[i] as ManifestFile;
      const path = `/api/v1/content/${hash}/files/${f.path.split('/').map(encodeURIComponent).join('/')}`;
      const res = await request(
        agent,
        url,
        'PUT',
        path,
        { 'content-type': 'application/octet-stream', 'content-length': f.size, 'x-lapis-sha256': m.sha256 },
        createReadStream(f.abs, { highWaterMark: 1 << 20 }),
      );
      if (res.status < 200 || res.status >= 300) throw new Error(`PUT ${f.path} -> HTTP ${res.status}: ${res.text.slice(0, 300)}`);
      const stored = JSON.parse(res.text) as { size?: number };
      if (stored.size !== f.size) throw new Error(`PUT ${f.path}: server stored ${stored.size} bytes, not ${f.size}`);
    });
    const t2 = performance.now();
    const body = Buffer.from(JSON.stringify({ files: manifest }));
    const res = await request(agent, url, 'POST', `/api/v1/content/${hash}/commit`, { 'content-type': 'application/json', 'content-length': body.length }, body);
    if (res.status < 200 || res.status >= 300) throw new Error(`commit -> HTTP ${res.status}: ${res.text.slice(0, 300)}`);
    const committed = JSON.parse(res.text) as { hash: string; size: number; files: number };
    const t3 = performance.now();
    const bytes = files.reduce((n, f) => n + f.size, 0);
    if (committed.hash !== hash || committed.size !== bytes || committed.files !== files.length) throw new Error(`commit answered ${res.text}`);
    return { bytes, files: files.length, hash, totalMs: t3 - t0, hashMs: t1 - t0, putMs: t2 - t1, commitMs: t3 - t2 };
  } finally {
    agent.destroy();
  }
}

/** `cp -r from to` (to must not exist), timed from spawn to exit. */
export function timedCopy(from: string, to: string): Promise<number> {
  mkdirSync(dirname(to), { recursive: true });
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('cp', ['-r', from, to], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`cp -r exited with ${code}: ${err}`))));
  });
}
