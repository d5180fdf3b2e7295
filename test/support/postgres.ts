import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestPostgres {
  /** Admin URL (database `postgres`). */
  url: string;
  /** Creates a fresh, uniquely named database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Newest server binaries installed by Debian's `postgresql` package. */
function pgBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`PostgreSQL server binaries not found under ${base}; install them with: apt-get install postgresql`);
  return join(base, newest, 'bin');
}

/**
 * PostgreSQL refuses to run as root, so as root we run it as the `postgres` user the Debian package creates.
 * We use spawn's uid/gid rather than `runuser`: runuser ignores SIGINT and turns SIGTERM into TERM-then-KILL,
 * so signals would never reach the postmaster as sent and a killed runner could leave it orphaned.
 */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function run(cmd: string, args: string[], user: ReturnType<typeof runAs>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...user, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}:\n${out}`))));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** Starts a private, throwaway cluster (never the system one), tuned for speed over durability. */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = pgBinDir();
  const user = runAs();
  // mkdtemp makes a 0700 dir; as root we hand the whole dir to `postgres` so it can reach the data and socket.
  const base = await mkdtemp(join(tmpdir(), 'lapis-pg-'));
  const data = join(base, 'data');
  await mkdir(data, { mode: 0o700 });
  if (user) {
    await chown(base, user.uid, user.gid);
    await chown(data, user.uid, user.gid);
  }
  try {
    // --no-locale: the runner's LANG may name a locale that is not installed, which makes initdb fail.
    await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'], user);
  } catch (err) {
    await rm(base, { recursive: true, force: true });
    throw err;
  }

  // The port can be taken between freePort() and bind, so retry a few times.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = ['-D', data, '-k', base, '-p', String(port), '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
    const child = spawn(join(bin, 'postgres'), args, { ...user, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    // A crashed test run must not leave the cluster behind (SIGQUIT = immediate shutdown).
    const killOnExit = () => child.kill('SIGQUIT');
    process.once('exit', killOnExit);

    const stop = async () => {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT'); // "fast" shutdown: disconnects clients instead of waiting for them
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited(child);
        clearTimeout(timer);
      }
      await rm(base, { recursive: true, force: true });
    };

    try {
      await waitReady(url, child, () => log);
    } catch (err) {
      await stop().catch(() => undefined);
      if (attempt < 3 && /could not bind|already in use/i.test(log)) continue;
      throw err;
    }

    return {
      url,
      stop,
      async createDatabase(name = `t_${randomBytes(6).toString('hex')}`) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name: ${name}`);
        await withClient(url, (c) => c.query(`CREATE DATABASE "${name}"`));
        return `postgresql://postgres@127.0.0.1:${port}/${name}`;
      },
    };
  }
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited during startup:\n${log()}`);
    try {
      await withClient(url, (c) => c.query('SELECT 1'));
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 30 s (${String(err)}):\n${log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
