import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/**
 * The content-upload side of the registry benchmark: the test folder, the upload as a user runs it
 * (`lapis data create -f data.yml` naming the folder) and the disk copies it is compared with.
 */

export interface LocalFile {
  /** Path inside the folder, with '/' separators (the upload's file path). */
  path: string;
  abs: string;
  size: number;
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

export interface UploadTiming {
  bytes: number;
  files: number;
  /** The content hash the asset points at. */
  hash: string;
  totalMs: number;
  /** CPU seconds of the CLI process (its hash threads included). */
  clientCpuS: number;
}

/** CPU seconds of this process's children that have exited and been waited for (/proc/self/stat). */
function childrenCpuSeconds(): number {
  // From field 3 on (after the command name): cutime and cstime are fields 16 and 17, in clock ticks.
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** Spawns a command; resolves with its stdout and wall time, rejects with its stderr on failure. */
function timed(cmd: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve({ ms: performance.now() - t0, stdout: out }) : reject(new Error(`${cmd} ${argv.join(' ')} exited with ${code}: ${err.slice(-2000)}`))));
  });
}

/** How the CLI sends the files: copied into the server's store (its default on the server's machine), or over HTTP. */
export type Transfer = 'direct' | 'http';

/**
 * One upload as a user runs it: `lapis data create -f data.yml` with `path:` the folder, timed from
 * the CLI's spawn to its exit (hashing, the transfer, the commit and the asset's creation). `http`
 * sets LAPIS_DIRECT_UPLOAD=0, so the files stream over HTTP as they do from another machine.
 * `configDir` is the CLI's config folder, where it keeps its hash cache.
 */
export async function uploadWithCli(
  root: string,
  serverUrl: string,
  folder: string,
  ymlDir: string,
  files: readonly LocalFile[],
  version: string,
  opts: { transfer?: Transfer; configDir: string },
): Promise<UploadTiming> {
  const yml = join(ymlDir, 'data.yml');
  writeFileSync(yml, `name: bench-upload\nversion: "${version}"\ntype: uri_folder\npath: ${JSON.stringify(folder)}\n`);
  const cpu0 = childrenCpuSeconds();
  // The config folder holds the CLI's hash cache: a new one is a first upload, every file hashed.
  const env = { ...process.env, LAPIS_URL: serverUrl, LAPIS_CONFIG_DIR: opts.configDir, ...(opts.transfer === 'http' ? { LAPIS_DIRECT_UPLOAD: '0' } : {}) };
  const { ms, stdout } = await timed(process.execPath, [join(root, 'dist/cli/lapis.js'), 'data', 'create', '-f', yml, '-o', 'json'], env);
  const clientCpuS = childrenCpuSeconds() - cpu0;
  const asset = JSON.parse(stdout) as { content_hash?: string };
  if (!asset.content_hash) throw new Error(`lapis data create answered without a content hash: ${stdout.slice(0, 300)}`);
  return { bytes: files.reduce((n, f) => n + f.size, 0), files: files.length, hash: asset.content_hash, totalMs: ms, clientCpuS };
}

/** Every file and folder under `dir`, the folder itself included (what a durable copy fsyncs). */
function entries(dir: string): string[] {
  const out = [dir];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...entries(join(dir, e.name)));
    else out.push(join(dir, e.name));
  }
  return out;
}

/** `cp -r from to` (to must not exist), timed from spawn to exit: the copy into the page cache, not yet on disk. */
export async function timedCopy(from: string, to: string): Promise<number> {
  mkdirSync(dirname(to), { recursive: true });
  return (await timed('cp', ['-r', from, to])).ms;
}

/**
 * `cp -r from to`, then `sync` of every copied file and folder (fsync each: the data and the names
 * on disk), timed from the copy's spawn to the sync's exit: what a store must do before it reports
 * an upload as stored.
 */
export async function timedDurableCopy(from: string, to: string): Promise<number> {
  mkdirSync(dirname(to), { recursive: true });
  const t0 = performance.now();
  await timed('cp', ['-r', from, to]);
  await timed('sync', entries(to));
  return performance.now() - t0;
}

/** The raw disk: `dd` of each file from the page cache in 8 MiB writes with `conv=fsync` (one after the other), summed. */
export async function timedDd(files: readonly LocalFile[], dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  let ms = 0;
  for (const [i, f] of files.entries()) ms += (await timed('dd', [`if=${f.abs}`, `of=${join(dir, String(i))}`, 'bs=8M', 'conv=fsync', 'status=none'])).ms;
  return ms;
}
