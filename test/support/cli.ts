import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist/cli/lapis.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built `lapis` CLI as a user would, against `url`, with none of the caller's LAPIS_*
 * settings leaking in (TZ=UTC so printed times are predictable).
 */
export function runCli(args: string[], opts: { url: string; cwd?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult> {
  const base = { ...process.env };
  for (const name of ['LAPIS_URL', 'LAPIS_WORKSPACE', 'LAPIS_TOKEN']) delete base[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: { ...base, LAPIS_URL: opts.url, TZ: 'UTC', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A long-running CLI command (e.g. `--follow`): its output so far, and a way to stop it. */
export function startCli(args: string[], opts: { url: string; cwd?: string }): { output: () => string; stop: () => Promise<void> } {
  const base = { ...process.env };
  for (const name of ['LAPIS_URL', 'LAPIS_WORKSPACE', 'LAPIS_TOKEN']) delete base[name];
  const child = spawn(process.execPath, [CLI, ...args], { ...(opts.cwd ? { cwd: opts.cwd } : {}), env: { ...base, LAPIS_URL: opts.url, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      await closed;
    },
  };
}
