import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { sleep, waitForHttp } from './http.js';
import { processTree } from './proc.js';

/**
 * Server launchers for benchmarks. Each server runs in its own process group so that stopping it
 * also stops whatever it forked (MLflow's uvicorn workers); every started server is tracked so an
 * error or Ctrl-C still stops it.
 */
export interface RunningServer {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  /** Stops the server (SIGINT/SIGTERM to its group, then SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /** The last lines the server wrote, for error messages. */
  tail(): string;
}

const live = new Set<RunningServer>();
const groups = new Set<number>();

/** SIGKILLs every server still running: the last resort on exit paths that cannot await. */
export function killAllNow(): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  groups.clear();
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop().catch(() => undefined)));
}

/** A free loopback TCP port (there is a small race until the server binds it; fine for a bench). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function launch(name: string, command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; tail: () => string } {
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  groups.add(child.pid);
  const log = createWriteStream(logFile);
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    log.write(chunk);
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => log.end());
  return { child, tail: () => lines.join('\n') };
}

function makeServer(name: string, url: string, child: ChildProcess, tail: () => string, signal: NodeJS.Signals): RunningServer {
  const pid = child.pid as number;
  let stopping: Promise<void> | undefined;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const server: RunningServer = {
    name,
    url,
    pid,
    tail,
    stop(graceMs = 15_000) {
      stopping ??= (async () => {
        const tree = processTree(pid);
        try {
          process.kill(-pid, signal);
        } catch {
          // already gone
        }
        await Promise.race([exited, sleep(graceMs)]);
        // Whatever is left of the group (workers slow to exit) is killed for good.
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // nothing left
        }
        for (const p of tree) {
          for (let i = 0; i < 40 && isAlive(p); i++) await sleep(50);
        }
        groups.delete(pid);
        live.delete(server);
      })();
      return stopping;
    },
  };
  live.add(server);
  return server;
}

function cleanEnv(prefix: string): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith(prefix)));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `node dist/cli/main.js server` on a free port and resolves when it printed its
 * "listening" line. `nodeArgs` go before the script (e.g. --cpu-prof); `env` sets server settings
 * that have no flag (e.g. LAPIS_JOB_CACHE), named explicitly by the bench.
 */
export async function startLapis(opts: { root: string; dataDir: string; logDir: string; nodeArgs?: string[]; env?: Record<string, string>; timeoutMs?: number }): Promise<RunningServer> {
  mkdirSync(opts.dataDir, { recursive: true });
  const args = [...(opts.nodeArgs ?? []), join(opts.root, 'dist/cli/main.js'), 'server', '--host', '127.0.0.1', '--port', '0', '--data-dir', opts.dataDir, '--log-level', 'warn'];
  // Only the flags and `opts.env` configure the server: no LAPIS_* variable of the caller's shell leaks in.
  const env = { ...cleanEnv('LAPIS_'), ...opts.env, LAPIS_CONFIG: join(opts.dataDir, 'lapis.yaml') };
  const { child, tail } = launch('lapis', process.execPath, args, join(opts.logDir, 'lapis.log'), env);
  const server = makeServer('lapis', '', child, tail, 'SIGINT');
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Lapis did not start within ${opts.timeoutMs ?? 30_000} ms:\n${tail()}`)), opts.timeoutMs ?? 30_000);
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const match = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(buffered);
        if (match) {
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Lapis exited with code ${code} before listening:\n${tail()}`));
      });
    });
    return Object.assign(server, { url });
  } catch (err) {
    await server.stop(2_000);
    throw err;
  }
}

/** Starts `mlflow server` (its default uvicorn server and worker count) and waits for /health. */
export async function startMlflow(opts: { venv: string; dbPath: string; artifactsDir: string; logDir: string; timeoutMs?: number }): Promise<RunningServer> {
  const port = await freePort();
  const args = [
    'server',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--backend-store-uri',
    `sqlite:///${opts.dbPath}`,
    '--artifacts-destination',
    opts.artifactsDir,
  ];
  const env = { ...cleanEnv('MLFLOW_'), MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', PYTHONUNBUFFERED: '1' };
  const { child, tail } = launch('mlflow', join(opts.venv, 'bin/mlflow'), args, join(opts.logDir, 'mlflow.log'), env);
  const url = `http://127.0.0.1:${port}`;
  const server = makeServer('mlflow', url, child, tail, 'SIGTERM');
  try {
    await waitForHttp(`${url}/health`, opts.timeoutMs ?? 120_000, () => child.exitCode === null && child.signalCode === null);
  } catch (err) {
    await server.stop(2_000);
    throw new Error(`MLflow did not become healthy: ${(err as Error).message}\n${tail()}`);
  }
  return server;
}

/**
 * Starts `mlflow models serve -m <modelDir> --env-manager local` (MLflow's scoring server: uvicorn
 * and FastAPI, with its default worker count unless `workers` is given) and waits for /ping.
 */
export async function startMlflowModelServer(opts: { venv: string; modelDir: string; logDir: string; workers?: number; timeoutMs?: number }): Promise<RunningServer> {
  const port = await freePort();
  const args = ['models', 'serve', '-m', opts.modelDir, '--env-manager', 'local', '--host', '127.0.0.1', '--port', String(port), ...(opts.workers ? ['--workers', String(opts.workers)] : [])];
  // PATH first: `mlflow models serve` runs `uvicorn` through a shell, which must be the venv's.
  const env = { ...cleanEnv('MLFLOW_'), PATH: `${join(opts.venv, 'bin')}:${process.env.PATH ?? ''}`, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', PYTHONUNBUFFERED: '1' };
  const { child, tail } = launch('mlflow-models-serve', join(opts.venv, 'bin/mlflow'), args, join(opts.logDir, 'mlflow-models-serve.log'), env);
  const url = `http://127.0.0.1:${port}`;
  const server = makeServer('mlflow-models-serve', url, child, tail, 'SIGTERM');
  try {
    await waitForHttp(`${url}/ping`, opts.timeoutMs ?? 120_000, () => child.exitCode === null && child.signalCode === null);
  } catch (err) {
    await server.stop(2_000);
    throw new Error(`mlflow models serve did not answer /ping: ${(err as Error).message}\n${tail()}`);
  }
  return server;
}
