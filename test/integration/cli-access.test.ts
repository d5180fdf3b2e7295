/**
 * Access control through the `lapis` CLI against a server started with `--auth on`: login and
 * stored credentials, users, tokens, roles (built-in and custom), service principals, the audit
 * log and workspace deletion. The built CLI (`dist/cli/lapis.js`) runs as a subprocess with its own
 * config dir per person, exactly as people and scripts run it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLapis, type LapisServer } from '../support/server.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(repoRoot, 'dist/cli/lapis.js');
const ADMIN_PASSWORD = 'correct horse battery staple';
const ANA_PASSWORD = 'ana-likes-long-passphrases';
const TOKEN_PATTERN = /lapis_tok[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}/;

let server: LapisServer;
let work: string;
/** One config dir per person, as if on their own machines. */
let adminDir: string;
let anaDir: string;
let emptyDir: string;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** LAPIS_CONFIG_DIR (the admin's by default). */
  config?: string;
  /** Piped to stdin; stdin is closed (and never a terminal) either way. */
  input?: string;
  env?: Record<string, string>;
}

/** Runs `lapis <args>` against the test server; LAPIS_TOKEN is unset unless given in `env`. */
function lapis(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const base = { ...process.env };
  for (const name of ['LAPIS_URL', 'LAPIS_WORKSPACE', 'LAPIS_TOKEN', 'LAPIS_CONFIG_DIR']) delete base[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: work,
      // HOME too, so nothing can reach the real ~/.lapis even if LAPIS_CONFIG_DIR were ignored.
      env: { ...base, HOME: work, LAPIS_URL: server.url, LAPIS_CONFIG_DIR: opts.config ?? adminDir, TZ: 'UTC', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Runs the CLI, expects exit 0 and parses its JSON output. */
async function lapisJson<T>(args: string[], opts: RunOptions = {}): Promise<T> {
  const res = await lapis([...args, '-o', 'json'], opts);
  expect(res.stderr, `lapis ${args.join(' ')}`).not.toMatch(/^error:/m);
  expect(res.code, `lapis ${args.join(' ')}: ${res.stderr}`).toBe(0);
  return JSON.parse(res.stdout) as T;
}

interface CredentialsFile {
  servers: Record<string, { token: string; token_id: string; principal: string; source: string }>;
}

const credentialsOf = async (dir: string): Promise<CredentialsFile> => JSON.parse(await readFile(join(dir, 'credentials.json'), 'utf8')) as CredentialsFile;

async function mlflow<T>(token: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${server.url}/workspaces/dev/api/2.0/mlflow/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

interface AuditEntry {
  principal: string;
  workspace: string | null;
  action: string;
  resource: string;
  outcome: string;
  status: number;
}

beforeAll(async () => {
  server = await startLapis({ backend: 'sqlite', args: ['--auth', 'on'], env: { LAPIS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  work = await mkdtemp(join(tmpdir(), 'lapis-cli-access-'));
  adminDir = join(work, 'admin-config');
  anaDir = join(work, 'ana-config');
  emptyDir = join(work, 'empty-config');
});

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('lapis access control', () => {
  let adminToken: string;
  let runId: string;
  let anaToken: string;
  let anaTokenId: string;

  it('refuses to take a password from anything but stdin or a terminal', async () => {
    const res = await lapis(['login', '--username', 'admin']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--password-stdin/);
    expect(existsSync(join(adminDir, 'credentials.json'))).toBe(false);

    const wrong = await lapis(['login', '--username', 'nobody', '--password-stdin'], { input: 'not-the-password\n' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/Wrong user name or password/);
    expect(existsSync(join(adminDir, 'credentials.json'))).toBe(false);
  });

  it('logs the admin in with --password-stdin and stores the token with mode 0600', async () => {
    const res = await lapis(['login', '--username', 'admin', '--password-stdin'], { input: `${ADMIN_PASSWORD}\n` });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/Logged in to .* as admin \(user, server admin\)/);
    expect(res.stdout).not.toMatch(TOKEN_PATTERN);

    const file = join(adminDir, 'credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const entry = (await credentialsOf(adminDir)).servers[server.url];
    expect(entry).toMatchObject({ principal: 'admin', source: 'password' });
    expect(entry?.token).toMatch(TOKEN_PATTERN);
    adminToken = entry?.token ?? '';

    const who = await lapisJson<{ name: string; is_admin: boolean; token_source: string }>(['whoami']);
    expect(who).toMatchObject({ name: 'admin', is_admin: true, token_source: 'stored' });
  });

  it('creates a user, a workspace and a role assignment', async () => {
    const ana = await lapisJson<{ name: string; kind: string; is_admin: boolean }>(['user', 'create', 'ana', '--password-stdin', '--display-name', 'Ana Lima'], { input: `${ANA_PASSWORD}\n` });
    expect(ana).toMatchObject({ name: 'ana', kind: 'user', is_admin: false });
    const users = await lapisJson<{ name: string; display_name: string; disabled: boolean }[]>(['user', 'list']);
    expect(users.find((u) => u.name === 'ana')).toMatchObject({ display_name: 'Ana Lima', disabled: false });

    expect((await lapis(['workspace', 'create', 'dev'])).code).toBe(0);
    const assigned = await lapis(['role', 'assign', '--user', 'ana', '--role', 'Data Scientist', '-w', 'dev']);
    expect(assigned.code, assigned.stderr).toBe(0);
    expect(assigned.stdout).toMatch(/Assigned role 'Data Scientist' to ana in workspace 'dev'/);
    const assignments = await lapisJson<{ principal: string; role: string }[]>(['role', 'assignments', '-w', 'dev']);
    expect(assignments).toEqual([expect.objectContaining({ principal: 'ana', kind: 'user', role: 'Data Scientist' })]);

    const experiment = await mlflow<{ experiment_id: string }>(adminToken, 'experiments/create', { name: 'churn' });
    runId = (await mlflow<{ run: { info: { run_id: string } } }>(adminToken, 'runs/create', { experiment_id: experiment.experiment_id, run_name: 'r1' })).run.info.run_id;
  });

  it('lets ana work in dev with her role, but not delete it', async () => {
    const login = await lapis(['login', '--username', 'ana', '--password-stdin'], { config: anaDir, input: ANA_PASSWORD });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(/as ana \(user\)/);
    expect(login.stdout).toMatch(/Roles: Data Scientist in dev\./);

    const runs = await lapisJson<{ info: { run_id: string } }[]>(['run', 'list', '-w', 'dev', '--experiment', 'churn'], { config: anaDir });
    expect(runs.map((r) => r.info.run_id)).toEqual([runId]);

    const denied = await lapis(['workspace', 'delete', 'dev', '--force', '--yes'], { config: anaDir });
    expect([2, 3]).toContain(denied.code);
    if (denied.code === 2) expect(denied.stderr).toMatch(/'ana' may not workspaces\/delete/);
    expect((await lapis(['workspace', 'show', 'dev'])).code).toBe(0);
  });

  it('creates a token that works as LAPIS_TOKEN until it is revoked', async () => {
    const created = await lapis(['token', 'create', '--expires', '30d', '--name', 'notebook'], { config: anaDir });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/shown once/);
    anaToken = TOKEN_PATTERN.exec(created.stdout)?.[0] ?? '';
    expect(anaToken).not.toBe('');
    anaTokenId = /^lapis_(tok[A-Za-z0-9]{12})_/.exec(anaToken)?.[1] ?? '';

    const env = { LAPIS_TOKEN: anaToken };
    expect(await lapisJson(['whoami'], { config: emptyDir, env })).toMatchObject({ name: 'ana', token_source: 'env' });
    // LAPIS_TOKEN wins over a stored login.
    expect(await lapisJson(['whoami'], { config: adminDir, env })).toMatchObject({ name: 'ana' });
    expect(await lapisJson<unknown[]>(['run', 'list', '-w', 'dev', '--experiment', 'churn'], { config: emptyDir, env })).toHaveLength(1);

    const listed = await lapisJson<{ id: string; name: string; expires_at: number | null }[]>(['token', 'list'], { config: anaDir });
    const notebook = listed.find((t) => t.id === anaTokenId);
    expect(notebook).toMatchObject({ name: 'notebook' });
    expect(notebook?.expires_at).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    const revoked = await lapis(['token', 'revoke', anaTokenId], { config: anaDir });
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await lapis(['run', 'list', '-w', 'dev'], { config: emptyDir, env });
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/revoked/);
    // Ana's own login is untouched.
    expect((await lapis(['run', 'list', '-w', 'dev'], { config: anaDir })).code).toBe(0);
  });

  it('refuses an unknown role, listing the roles, and changes nothing', async () => {
    const before = await lapis(['role', 'assignments', '-w', 'dev', '-o', 'json']);
    expect(before.code).toBe(0);
    const res = await lapis(['role', 'assign', '--user', 'ana', '--role', 'Chief Wizard', '-w', 'dev']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Role "Chief Wizard" does not exist/);
    expect(res.stderr).toMatch(/'Owner'.*'Reader'.*'Data Scientist'/);
    const after = await lapis(['role', 'assignments', '-w', 'dev', '-o', 'json']);
    expect(after.stdout).toBe(before.stdout);
  });

  it('defines a custom role from YAML, checking its shape first', async () => {
    const bad = join(work, 'bad-role.yml');
    await writeFile(bad, 'name: Broken\nactions: [runs/read, 42]\npermissions: all\n');
    const refused = await lapis(['role', 'create', '-f', bad]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/bad-role\.yml: unknown key 'permissions'/);
    await writeFile(bad, 'name: Broken\nactions: [runs/read, 42]\n');
    expect((await lapis(['role', 'create', '-f', bad])).stderr).toMatch(/'actions\[1\]' must be an action pattern/);
    await writeFile(bad, 'name: [Broken\n');
    expect((await lapis(['role', 'create', '-f', bad])).stderr).toMatch(/not valid YAML/);

    const file = join(work, 'run-reader.yml');
    await writeFile(file, ['name: Run Reader', 'description: Reads runs and experiments, nothing else', 'actions:', '  - experiments/read', '  - runs/read', 'not_actions: []', ''].join('\n'));
    const created = await lapis(['role', 'create', '-f', file]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/Defined role 'Run Reader'/);
    const roles = await lapisJson<{ name: string; built_in: boolean; actions: string[] }[]>(['role', 'list']);
    expect(roles.find((r) => r.name === 'Run Reader')).toMatchObject({ built_in: false, actions: ['experiments/read', 'runs/read'] });
    expect(roles.find((r) => r.name === 'Broken')).toBeUndefined();
  });

  it('gives a service principal a custom role; its token can do what the role allows, nothing more', async () => {
    const created = await lapisJson<{ principal: { name: string; kind: string }; token: { token: string; expires_at: number | null } }>(['service-principal', 'create', 'ci', '--display-name', 'CI pipeline']);
    expect(created.principal).toMatchObject({ name: 'ci', kind: 'service_principal' });
    expect(created.token.token).toMatch(TOKEN_PATTERN);
    expect(created.token.expires_at).toBeGreaterThan(Date.now() + 89 * 86_400_000);

    const assigned = await lapis(['role', 'assign', '--principal', 'ci', '--role', 'Run Reader', '-w', 'dev']);
    expect(assigned.code, assigned.stderr).toBe(0);

    const env = { LAPIS_TOKEN: created.token.token };
    expect(await lapisJson(['whoami'], { config: emptyDir, env })).toMatchObject({ name: 'ci', kind: 'service_principal', workspaces: [{ name: 'dev', roles: expect.any(Array) }] });
    const runs = await lapisJson<{ info: { run_id: string } }[]>(['run', 'list', '-w', 'dev', '--experiment', 'churn'], { config: emptyDir, env });
    expect(runs.map((r) => r.info.run_id)).toEqual([runId]);
    const noRoles = await lapis(['role', 'assignments', '-w', 'dev'], { config: emptyDir, env });
    expect(noRoles.code).toBe(2);
    expect(noRoles.stderr).toMatch(/'ci' may not roles\/read/);
    expect((await lapis(['experiment', 'list', '-w', 'default'], { config: emptyDir, env })).code).toBe(3);
  });

  it('shows the audit log of the workspace: the assignment allowed, the delete denied', async () => {
    const entries = await lapisJson<AuditEntry[]>(['audit', 'list', '-w', 'dev', '--since', '1d']);
    expect(entries.every((e) => e.workspace === 'dev')).toBe(true);
    expect(entries).toContainEqual(
      expect.objectContaining({ principal: 'admin', action: 'roles/write', outcome: 'allowed', status: 201, resource: expect.stringMatching(/principal=ana role=Data Scientist/) }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ principal: 'ana', action: 'workspaces/delete', outcome: 'denied', status: 403 }));

    const filtered = await lapisJson<AuditEntry[]>(['audit', 'list', '-w', 'dev', '--principal', 'ana', '--action', 'workspaces/delete']);
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((e) => e.principal === 'ana' && e.action === 'workspaces/delete')).toBe(true);

    const table = await lapis(['audit', 'list', '-w', 'dev', '--limit', '50']);
    expect(table.stdout.split('\n')[0]).toMatch(/^TIME\s+PRINCIPAL\s+ACTION\s+RESOURCE\s+OUTCOME\s+STATUS\s+CLIENT$/);
    // Ana is a Data Scientist: no audit/read.
    expect((await lapis(['audit', 'list', '-w', 'dev'], { config: anaDir })).code).toBe(2);
  });

  it('refuses to delete a non-empty workspace without --force, naming what it holds; with --force it is gone', async () => {
    const refused = await lapis(['workspace', 'delete', 'dev']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/still holds 1 experiments, 1 runs/);
    expect(refused.stderr).toMatch(/--force/);
    expect((await lapis(['workspace', 'show', 'dev'])).code).toBe(0);

    const deleted = await lapisJson<{ deleted: string; removed: Record<string, number> }>(['workspace', 'delete', 'dev', '--force', '--yes']);
    expect(deleted).toMatchObject({ deleted: 'dev', removed: { experiments: 1, runs: 1 } });
    expect((await lapis(['workspace', 'show', 'dev'])).code).toBe(3);
    expect((await lapis(['run', 'list', '-w', 'dev'], { config: anaDir })).code).toBe(3);
  });

  it('logs out: the stored token is revoked and forgotten', async () => {
    const res = await lapis(['logout']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/revoked and forgotten/);
    expect((await credentialsOf(adminDir)).servers[server.url]).toBeUndefined();
    expect((await stat(join(adminDir, 'credentials.json'))).mode & 0o777).toBe(0o600);

    const old = await lapis(['whoami'], { config: emptyDir, env: { LAPIS_TOKEN: adminToken } });
    expect(old.code).toBe(2);
    expect(old.stderr).toMatch(/revoked/);
    const none = await lapis(['whoami']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Authentication required/);
    expect((await lapis(['logout'])).stdout).toMatch(/Not logged in/);
  });

  it('stores an existing token with login --token (read from stdin with -), and keeps it valid at logout', async () => {
    const created = await lapisJson<{ token: string; id: string }>(['token', 'create', '--name', 'spare'], { config: anaDir });
    const login = await lapis(['login', '--token', '-'], { config: emptyDir, input: `${created.token}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(/as ana/);
    expect((await credentialsOf(emptyDir)).servers[server.url]).toMatchObject({ principal: 'ana', source: 'token', token_id: created.id });

    const out = await lapis(['logout'], { config: emptyDir });
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/not revoked/);
    expect(await lapisJson(['whoami'], { config: work, env: { LAPIS_TOKEN: created.token } })).toMatchObject({ name: 'ana' });

    const bogus = await lapis(['login', '--token', 'lapis_tokAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'], { config: emptyDir });
    expect(bogus.code).toBe(2);
    expect((await credentialsOf(emptyDir)).servers[server.url]).toBeUndefined();
  });
});
