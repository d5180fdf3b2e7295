import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';

// Helpers for integration tests. The shared services come from test/support/global-setup.ts via process.env.

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface LapisOptions {
  backend: 'sqlite' | 'postgres';
  artifacts?: 'file' | 's3';
  env?: Record<string, string>;
  args?: string[];
  /** Reuse this data dir (a restart); it is then left in place on stop. */
  dataDir?: string;
}

export interface LapisServer {
  url: string;
  dataDir: string;
  backendStoreUri: string;
  stop(): Promise<void>;
  logs(): string;
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run integration tests through vitest (test/support/global-setup.ts)`);
  return value;
}

const uniqueName = (prefix: string) => `${prefix}${randomBytes(6).toString('hex')}`;

/** Creates an empty database in the run's shared PostgreSQL and returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const admin = new URL(requireEnv('LAPIS_TEST_PG_URL'));
  const name = uniqueName('lapis_');
  const client = new pg.Client({ connectionString: admin.href });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  admin.pathname = `/${name}`;
  return admin.href;
}

/** S3 settings for the run's shared moto server; also what a Python client needs to reach it. */
export function s3Env(): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: requireEnv('LAPIS_TEST_S3_ENDPOINT'),
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
  };
}

/** Creates an empty bucket in moto and returns its name. */
export async function createTestBucket(): Promise<string> {
  const env = s3Env();
  const s3 = new S3Client({
    endpoint: env.AWS_ENDPOINT_URL_S3,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    forcePathStyle: true,
  });
  const bucket = uniqueName('lapis-test-');
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
  return bucket;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** Starts the built server (`npm run build` first) on a free port with its own data dir (and database/bucket). */
export async function startLapis(opts: LapisOptions): Promise<LapisServer> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'lapis-test-')));
  const args = ['dist/cli/main.js', 'server', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir];
  let env: Record<string, string> = {};
  let backendStoreUri: string;
  try {
    backendStoreUri = opts.backend === 'postgres' ? await createTestDatabase() : `sqlite:///${join(dataDir, 'lapis.db')}`;
    args.push('--backend-store-uri', backendStoreUri);
    if (opts.artifacts === 's3') {
      args.push('--artifacts-destination', `s3://${await createTestBucket()}/artifacts`);
      env = s3Env();
    }
  } catch (err) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  args.push(...(opts.args ?? []));

  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  child.stderr.on('data', (d: Buffer) => (logs += d.toString()));

  // A suite that crashes before calling stop() must not leave the server running.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited(child);
        clearTimeout(timer);
      }
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    })());

  try {
    const url = await new Promise<string>((resolve, reject) => {
      const fail = (why: string) => reject(new Error(`Lapis server ${why}; args: ${args.join(' ')}\n--- logs ---\n${logs}`));
      const timer = setTimeout(() => fail('did not report "listening at" within 30 s'), 30_000);
      let partial = '';
      child.stdout.on('data', (d: Buffer) => {
        const text = d.toString();
        logs += text;
        // Only look at complete lines, so a URL split across chunks is never read half-way.
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          // The character class also stops at the quote when the line is a JSON (pino) log record.
          const m = /listening at (http:\/\/[^\s"]+)/.exec(line);
          if (m?.[1]) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        fail(`could not start: ${err.message}`);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(`exited with ${signal ?? `code ${code}`} before listening`);
      });
    });
    return { url, dataDir, backendStoreUri, stop, logs: () => logs };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs a Python script with the test venv's interpreter; rejects on timeout, resolves with the exit code otherwise. */
export function python(
  scriptPath: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const interpreter = requireEnv('LAPIS_TEST_PYTHON');
  return new Promise((resolve, reject) => {
    // stdin ignored: a script waiting for input would otherwise hang the run until the timeout.
    const child = spawn(interpreter, [scriptPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${scriptPath} timed out after ${timeoutMs} ms\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}
