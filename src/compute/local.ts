import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Executor, TaskExit, TaskLaunch } from './executor.js';
import { tail } from './tail.js';

/** The task runner shipped with the package (`python/` sits beside `dist/` and `src/`). */
export const RUNNER_SCRIPT = fileURLToPath(new URL('../../python/lapis_task/__main__.py', import.meta.url));

/** The server's variables a job must not inherit: its secrets, and settings meant for the server. */
const PRIVATE_ENV = /^(LAPIS_|MLFLOW_|AWS_|PG[A-Z]*$|DATABASE_URL$)/;

export interface LocalExecutorOptions {
  python: string;
  dataDir: string;
  cacheDir: string;
}

/**
 * Local compute: each runner is a detached process (its own process group) on this machine, with
 * its output in `<dataDir>/jobs/<job>/runner.log`. Detached so that a server restart leaves running
 * jobs running: the next server process finds them again by pid and by the `LAPIS_JOB` variable
 * in their environment (which a recycled pid would not have).
 */
export class LocalExecutor implements Executor {
  readonly kind = 'local';
  readonly #opts: LocalExecutorOptions;
  readonly #watchers = new Map<string, NodeJS.Timeout>();

  constructor(opts: LocalExecutorOptions) {
    this.#opts = opts;
  }

  /** The host Python's version, or an error saying how to fix the setting: checked once at start. */
  async pythonVersion(): Promise<string> {
    const probe = 'import sys; print("%d.%d.%d" % sys.version_info[:3]); sys.exit(0 if sys.version_info >= (3, 9) else 3)';
    return new Promise((resolve, reject) => {
      execFile(this.#opts.python, ['-I', '-S', '-c', probe], { timeout: 10_000 }, (err, stdout) => {
        const version = stdout.trim();
        if (!err) return resolve(version);
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'was not found' : version ? `is Python ${version}; jobs need 3.9 or newer` : `failed: ${err.message}`;
        reject(new Error(`The job Python '${this.#opts.python}' ${why}. Set --python (LAPIS_PYTHON) to a Python 3.9+ interpreter.`));
      });
    });
  }

  jobDir(job: string): string {
    return join(this.#opts.dataDir, 'jobs', job);
  }

  async start(launch: TaskLaunch, onExit: (exit: TaskExit) => void): Promise<{ pid: number }> {
    const dir = this.jobDir(launch.job);
    await removeTree(dir);
    await mkdir(join(dir, 'work'), { recursive: true });
    await mkdir(this.#opts.cacheDir, { recursive: true });
    const logPath = join(dir, 'runner.log');
    const log = openSync(logPath, 'a');
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!PRIVATE_ENV.test(k)) env[k] = v;
    Object.assign(env, {
      LAPIS_URL: launch.serverUrl,
      LAPIS_WORKSPACE: launch.workspace,
      LAPIS_JOB: launch.job,
      LAPIS_ATTEMPT: String(launch.attempt),
      LAPIS_JOB_DIR: join(dir, 'work'),
      LAPIS_CACHE_DIR: this.#opts.cacheDir,
      LAPIS_PYTHON: this.#opts.python,
      ...(launch.token ? { LAPIS_TOKEN: launch.token } : {}),
    });
    try {
      const child = spawn(this.#opts.python, ['-I', '-S', RUNNER_SCRIPT], { cwd: dir, env, detached: true, stdio: ['ignore', log, log] });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid as number));
        child.once('error', (err) => reject(new Error(`cannot start the task runner with '${this.#opts.python}': ${err.message}. Set --python (LAPIS_PYTHON) to a Python 3.9+ interpreter.`)));
      });
      child.once('exit', (code, signal) => {
        void tail(logPath).then((output) => onExit({ code, signal, output }));
      });
      // The server may stop while the job runs; the runner must not hold it open or die with it.
      child.unref();
      return { pid };
    } finally {
      closeSync(log);
    }
  }

  adopt(job: string, pid: number, onExit: (exit: TaskExit) => void): boolean {
    if (!isRunnerOf(job, pid)) return false;
    const timer = setInterval(() => {
      if (isRunnerOf(job, pid)) return;
      clearInterval(timer);
      this.#watchers.delete(job);
      void tail(join(this.jobDir(job), 'runner.log')).then((output) => onExit({ code: null, signal: null, output }));
    }, 500);
    timer.unref();
    this.#watchers.set(job, timer);
    return true;
  }

  async stop(job: string, pid: number): Promise<void> {
    signal(pid, 'SIGTERM');
    // The runner stops its command (SIGTERM, SIGKILL 1.5 s later) and reports Canceled; give it that long.
    for (let waited = 0; waited < 2500 && isRunnerOf(job, pid); waited += 100) await new Promise((r) => setTimeout(r, 100));
    // Whatever is left of the job (the runner, its command, anything that detached from them) carries LAPIS_JOB.
    for (const p of await processesOf(job)) signal(p, 'SIGKILL');
  }

  async cleanup(job: string): Promise<void> {
    const timer = this.#watchers.get(job);
    if (timer) clearInterval(timer);
    this.#watchers.delete(job);
    await removeTree(join(this.jobDir(job), 'work'));
  }

  /** Stops watching adopted runners (the server is closing; the runners go on). */
  close(): void {
    for (const timer of this.#watchers.values()) clearInterval(timer);
    this.#watchers.clear();
  }
}

/** ro_mount inputs are read-only folders, which a non-root server could not delete: make them writable first. */
async function removeTree(dir: string): Promise<void> {
  const unlock = async (folder: string): Promise<void> => {
    await chmod(folder, 0o755).catch(() => undefined);
    for (const e of await readdir(folder, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await unlock(join(folder, e.name));
  };
  await unlock(dir);
  await rm(dir, { recursive: true, force: true });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Synchronous: /proc reads do not block, and the answer must not go stale while awaited. */
function environOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return undefined;
  }
}

function isRunnerOf(job: string, pid: number): boolean {
  const environ = environOf(pid);
  return environ !== undefined && `\0${environ}`.includes(`\0LAPIS_JOB=${job}\0`);
}

/** Every process whose environment names the job. */
async function processesOf(job: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p)).map(Number);
  const out: number[] = [];
  for (const pid of pids) {
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => undefined);
    if (environ !== undefined && `\0${environ}`.includes(`\0LAPIS_JOB=${job}\0`)) out.push(pid);
  }
  return out;
}
