import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { startMoto } from './moto.js';
import { startPostgres } from './postgres.js';

/**
 * Integration globalSetup: one Python env, one PostgreSQL cluster and one moto S3 server for the whole run,
 * and a config folder for the CLIs the tests run.
 *
 * They are handed to tests through process.env (LAPIS_TEST_PYTHON, LAPIS_TEST_PG_URL, LAPIS_TEST_S3_ENDPOINT,
 * LAPIS_CONFIG_DIR)
 * rather than project.provide(): globalSetup runs in the main process before the test workers are forked, and
 * workers inherit its environment — and so do the servers and Python scripts the tests spawn, with no plumbing.
 */
export default async function setup(_project: TestProject): Promise<() => Promise<void>> {
  const python = (process.env.LAPIS_TEST_PYTHON ||= await pythonTestEnv());

  const stops: (() => Promise<void>)[] = [];
  // The CLIs the tests run keep what they store (the upload hash cache, logins) here, never in ~/.lapis.
  const configDir = (process.env.LAPIS_CONFIG_DIR = await mkdtemp(join(tmpdir(), 'lapis-test-config-')));
  stops.push(() => rm(configDir, { recursive: true, force: true }));
  const teardown = async () => {
    // Reverse order; keep stopping the rest if one fails.
    const results = await Promise.allSettled(stops.reverse().map((stop) => stop()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  try {
    // Independent, so start both at once: moto's import time dominates, PostgreSQL takes well under a second.
    const [pg, moto] = await Promise.allSettled([startPostgres(), startMoto(python)]);
    for (const r of [pg, moto]) if (r.status === 'fulfilled') stops.push(r.value.stop);
    if (pg.status === 'rejected') throw pg.reason;
    if (moto.status === 'rejected') throw moto.reason;
    process.env.LAPIS_TEST_PG_URL = pg.value.url;
    process.env.LAPIS_TEST_S3_ENDPOINT = moto.value.endpoint;
  } catch (err) {
    await teardown().catch(() => undefined);
    throw err;
  }
  return teardown;
}

/** Builds (first time only) the cached venv from test/python/requirements.txt and returns its python. */
async function pythonTestEnv(): Promise<string> {
  const script = fileURLToPath(new URL('../../scripts/python-test-env.sh', import.meta.url));
  const child = promisify(execFile)('bash', [script], { maxBuffer: 1 << 20 });
  child.child.stderr?.pipe(process.stderr); // pip progress/errors stay visible
  const { stdout } = await child;
  return `${stdout.trim()}/bin/python`;
}
