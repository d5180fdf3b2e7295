/**
 * Bad credentials and bad access-control input: each is refused with the exact status, code and a
 * message naming the problem; nothing changes (users, tokens and role assignments are compared
 * before and after); and the audit log records every refusal, denials with outcome `denied`.
 * Also: login lockout (401 ×5, then 429 with Retry-After), the per-principal rate limit, and token
 * expiry — the last in-process, with the clock moved, since the server has no clock seam to drive
 * from outside and the shortest token lifetime is one minute.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createServer, type LapisServer as InProcessServer } from '../../src/server/app.js';
import { startLapis, type LapisServer } from '../support/server.js';

const ADMIN_PASSWORD = 'admin-password-for-bad-input-tests';
const MLFLOW = '/api/2.0/mlflow';

interface Reply {
  status: number;
  json: Record<string, unknown>;
  text: string;
  headers: Headers;
  code: string | undefined;
  message: string;
}

async function call(base: string, method: string, path: string, opts: { auth?: string; token?: string; body?: unknown } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.auth !== undefined) headers.authorization = opts.auth;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  const err = json.error as { code?: string; message?: string } | undefined;
  return { status: res.status, json, text, headers: res.headers, code: (json.error_code as string | undefined) ?? err?.code, message: (json.message as string | undefined) ?? err?.message ?? '' };
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface AuditEntry {
  principal: string;
  workspace: string | null;
  action: string;
  outcome: string;
  status: number;
  method: string;
  path: string;
  resource: string;
}

describe('bad credentials and bad access-control input', () => {
  let server: LapisServer;
  let base: string;
  let adminToken = '';
  const anaPassword = 'ana-has-a-long-password';
  let anaToken = '';

  const admin = (method: string, path: string, body?: unknown) => call(base, method, path, { token: adminToken, body });
  const ok = async (p: Promise<Reply>, status = 200): Promise<Record<string, unknown>> => {
    const r = await p;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
    return r.json;
  };

  /** Everything the access layer stores, as the admin sees it. */
  const state = async (): Promise<unknown> => ({
    users: (await ok(admin('GET', '/api/v1/users'))).principals,
    tokens: ((await ok(admin('GET', '/api/v1/tokens?all=true'))).tokens as { id: string; revoked_at: number | null; expires_at: number | null; principal: string }[]).map((t) => ({
      id: t.id,
      principal: t.principal,
      revoked_at: t.revoked_at,
      expires_at: t.expires_at,
    })),
    dev: (await ok(admin('GET', '/workspaces/dev/api/v1/role-assignments'))).assignments,
    prod: (await ok(admin('GET', '/workspaces/prod/api/v1/role-assignments'))).assignments,
    roles: ((await ok(admin('GET', '/api/v1/roles'))).roles as { name: string }[]).map((r) => r.name),
    workspaces: ((await ok(admin('GET', '/api/v1/workspaces'))).workspaces as { name: string }[]).map((w) => w.name),
  });

  const audit = async (query: string): Promise<AuditEntry[]> => (await ok(admin('GET', `/workspaces/dev/api/v1/audit?${query}`))).entries as AuditEntry[];

  beforeAll(async () => {
    server = await startLapis({ backend: 'sqlite', args: ['--auth', 'on'], env: { LAPIS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    base = server.url;
    adminToken = (await ok(call(base, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } }))).token as string;
    await ok(admin('POST', '/api/v1/workspaces', { name: 'dev' }), 201);
    await ok(admin('POST', '/api/v1/workspaces', { name: 'prod' }), 201);
    await ok(admin('POST', '/api/v1/users', { name: 'ana', password: anaPassword }), 201);
    await ok(admin('POST', '/api/v1/users', { name: 'rita', password: 'rita-has-a-long-password' }), 201);
    await ok(admin('POST', '/workspaces/dev/api/v1/role-assignments', { principal: 'ana', role: 'Owner' }), 201);
    await ok(admin('POST', '/workspaces/dev/api/v1/role-assignments', { principal: 'rita', role: 'Reader' }), 201);
    anaToken = (await ok(admin('POST', '/api/v1/tokens', { principal: 'ana', name: 'main' }), 201)).token as string;
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('refuses malformed Authorization headers with 401 and a message naming the problem, changing nothing', async () => {
    const before = await state();
    const tokenLike = `lapis_tok${'A'.repeat(12)}_${'a'.repeat(43)}`;
    const anaId = anaToken.split('_')[1] as string;
    const cases: [string, string, RegExp][] = [
      ['Bearer abc', 'bearer junk', /^Malformed token: Lapis tokens look like lapis_<id>_<secret>/],
      ['Bearer lapis_x_y', 'bearer lapis_x_y', /^Malformed token/],
      ['Bearer ', 'empty bearer', /^Malformed token/],
      ['Bearer', 'bare scheme', /^Malformed token/],
      [`Bearer ${anaToken}x`, 'token with an extra character', /^Malformed token/],
      [`Bearer ${tokenLike}`, 'well-formed token nobody issued', /^Invalid token: it does not match any token of this server\.$/],
      [`Bearer lapis_${anaId}_${'b'.repeat(43)}`, "a real token id with the wrong secret", /^Invalid token: it does not match any token of this server\.$/],
      ['Basic !!!not-base64!!!', 'bad base64 basic', /^Malformed basic credentials: expected base64 of "username:password"\.$/],
      [`Basic ${Buffer.from('no-colon-here').toString('base64')}`, 'basic without a colon', /^Malformed basic credentials/],
      ['Basic', 'empty basic', /^Malformed basic credentials/],
      [basic('ana', 'wrong-password-here'), 'basic with a wrong password', /^Wrong user name or password\.$/],
      [basic('nobody', 'some-password-x'), 'basic with an unknown user', /^Wrong user name or password\.$/],
      [`Token ${anaToken}`, 'unknown scheme', /^Unsupported Authorization scheme: use 'Bearer <token>' or basic auth\.$/],
      [anaToken, 'token without a scheme', /^Unsupported Authorization scheme/],
    ];
    for (const [auth, label, message] of cases) {
      for (const [method, path] of [
        ['GET', `/workspaces/dev${MLFLOW}/experiments/search`],
        ['POST', `/workspaces/dev${MLFLOW}/experiments/create`],
        ['GET', '/api/v1/auth/whoami'],
      ] as const) {
        const r = await call(base, method, path, { auth, body: method === 'POST' ? { name: `never-${randomBytes(3).toString('hex')}` } : undefined });
        expect({ label, path, status: r.status, code: r.code }).toEqual({ label, path, status: 401, code: 'UNAUTHENTICATED' });
        expect(r.message, `${label} on ${path}`).toMatch(message);
        expect(r.text, label).not.toContain(anaPassword);
      }
    }
    // Three wrong basic passwords for ana (one per path) stay below the lockout of 5: her password still works.
    expect((await call(base, 'GET', '/api/v1/auth/whoami', { auth: basic('ana', anaPassword) })).status).toBe(200);
    expect(await state()).toEqual(before);
    const experiments = (await ok(admin('GET', `/workspaces/dev${MLFLOW}/experiments/search?max_results=100`))).experiments as { name: string }[];
    expect(experiments.map((e) => e.name)).toEqual(['Default']);
    const denied = await audit('principal=anonymous&action=experiments/write');
    expect(denied.length).toBe(cases.length);
    expect(new Set(denied.map((e) => `${e.outcome} ${e.status}`))).toEqual(new Set(['denied 401']));
  });

  it('answers a revoked token with 401 naming the revocation, for its owner and after an admin revokes it', async () => {
    const own = (await ok(admin('POST', '/api/v1/tokens', { principal: 'ana', name: 'to-revoke' }), 201)) as { id: string; token: string };
    expect((await call(base, 'GET', `/workspaces/dev${MLFLOW}/experiments/search`, { token: own.token })).status).toBe(200);
    // ana revokes it with itself (the credential is cached from the request above: revocation must still win).
    expect((await call(base, 'DELETE', `/api/v1/tokens/${own.id}`, { token: own.token })).status).toBe(200);
    for (const path of [`/workspaces/dev${MLFLOW}/experiments/search`, '/api/v1/auth/whoami', `/workspaces/dev${MLFLOW}/runs/search`]) {
      const r = await call(base, path.includes('runs/search') ? 'POST' : 'GET', path, { token: own.token, body: path.includes('runs/search') ? {} : undefined });
      expect({ status: r.status, code: r.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
      expect(r.message).toBe(`Token ${own.id} was revoked; create a new one with \`lapis token create\`.`);
    }
    // Revoked by the admin.
    const other = (await ok(admin('POST', '/api/v1/tokens', { principal: 'ana', name: 'admin-revokes' }), 201)) as { id: string; token: string };
    expect((await call(base, 'GET', '/api/v1/auth/whoami', { token: other.token })).status).toBe(200);
    expect((await admin('DELETE', `/api/v1/tokens/${other.id}`)).status).toBe(200);
    const r = await call(base, 'GET', '/api/v1/auth/whoami', { token: other.token });
    expect(r.status).toBe(401);
    expect(r.message).toContain(`Token ${other.id} was revoked`);
    // ana's other token is untouched.
    expect((await call(base, 'GET', '/api/v1/auth/whoami', { token: anaToken })).status).toBe(200);
    // Revoking twice is harmless; another user's token, or a missing one, is not found.
    expect((await admin('DELETE', `/api/v1/tokens/${other.id}`)).status).toBe(200);
    const ritaToken = (await ok(admin('POST', '/api/v1/tokens', { principal: 'rita', name: 'rita' }), 201)) as { id: string; token: string };
    const before = await state();
    const notHers = await call(base, 'DELETE', `/api/v1/tokens/${ritaToken.id}`, { token: anaToken });
    expect({ status: notHers.status, code: notHers.code }).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect((await call(base, 'DELETE', '/api/v1/tokens/tokNOSUCHTOKEN1', { token: anaToken })).status).toBe(404);
    expect(await state()).toEqual(before);
    expect((await call(base, 'GET', '/api/v1/auth/whoami', { token: ritaToken.token })).status).toBe(200);
  });

  it('refuses invalid token lifetimes with 400 and creates no token', async () => {
    const before = await state();
    const cases: [string, RegExp][] = [
      ['0d', /^Token lifetime must be positive and at most 3 years/],
      ['0m', /^Token lifetime must be positive/],
      ['1096d', /at most 3 years/],
      ['30s', /^Invalid duration '30s': use e\.g\. 30d, 12h or 90m\.$/],
      ['-1d', /^Invalid duration/],
      ['soon', /^Invalid duration/],
      ['1.5h', /^Invalid duration/],
    ];
    for (const [expires, message] of cases) {
      for (const [path, body, token] of [
        ['/api/v1/tokens', { name: 'x', expires }, anaToken],
        ['/api/v1/tokens', { principal: 'rita', expires }, adminToken],
        ['/api/v1/auth/login', { username: 'rita', password: 'rita-has-a-long-password', expires }, undefined],
      ] as const) {
        const r = await call(base, 'POST', path, { token, body });
        expect({ expires, path, status: r.status, code: r.code }).toEqual({ expires, path, status: 400, code: 'INVALID_ARGUMENT' });
        expect(r.message, `${expires} on ${path}`).toMatch(message);
      }
    }
    expect(await state()).toEqual(before);
    // The longest allowed lifetime works.
    const longest = (await ok(call(base, 'POST', '/api/v1/tokens', { token: anaToken, body: { name: 'long', expires: '1095d' } }), 201)) as { expires_at: number; created_at: number };
    expect(longest.expires_at - longest.created_at).toBe(1095 * 86_400_000);
  });

  it('locks a user after 5 wrong passwords: 401 ×5, then 429 with Retry-After, even for the right password', async () => {
    const user = 'lock-me';
    const pw = 'lock-me-has-a-long-password';
    await ok(admin('POST', '/api/v1/users', { name: user, password: pw }), 201);
    await ok(admin('POST', '/workspaces/dev/api/v1/role-assignments', { principal: user, role: 'Reader' }), 201);
    const before = await state();
    for (let i = 1; i <= 5; i++) {
      const r = await call(base, 'POST', '/api/v1/auth/login', { body: { username: user, password: `wrong-password-${i}` } });
      expect({ attempt: i, status: r.status, code: r.code, message: r.message }).toEqual({ attempt: i, status: 401, code: 'UNAUTHENTICATED', message: 'Wrong user name or password.' });
      expect(r.headers.get('retry-after')).toBeNull();
    }
    for (const password of ['wrong-password-6', pw]) {
      const r = await call(base, 'POST', '/api/v1/auth/login', { body: { username: user, password } });
      expect({ status: r.status, code: r.code }).toEqual({ status: 429, code: 'RESOURCE_EXHAUSTED' });
      expect(r.message).toMatch(new RegExp(`^Too many failed logins for '${user}'; try again in \\d+ s\\.$`));
      const retryAfter = Number(r.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(59);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(r.json).not.toHaveProperty('token');
    }
    // No token was issued for the locked user, and nothing else changed.
    expect(await state()).toEqual(before);
    // Other users are not affected.
    expect((await call(base, 'POST', '/api/v1/auth/login', { body: { username: 'rita', password: 'rita-has-a-long-password', expires: '1h' } })).status).toBe(200);
    // The failures are audited as denied (logins are not in a workspace: admins see them with all=true).
    const logins = await audit('all=true&action=auth/login');
    const denied = logins.filter((e) => e.outcome === 'denied');
    expect(denied.filter((e) => e.status === 401).length).toBeGreaterThanOrEqual(5);
    expect(denied.filter((e) => e.status === 429).length).toBeGreaterThanOrEqual(2);
  });

  it('answers 429 with Retry-After also when the locked user comes with basic auth (MLflow and native routes)', async () => {
    // lock-me is locked by the test above.
    for (const path of [`/workspaces/dev${MLFLOW}/experiments/search`, '/api/v1/auth/whoami']) {
      const r = await call(base, 'GET', path, { auth: basic('lock-me', 'lock-me-has-a-long-password') });
      expect({ path, status: r.status }).toEqual({ path, status: 429 });
      expect(r.code).toBe(path.startsWith('/workspaces') ? 'REQUEST_LIMIT_EXCEEDED' : 'RESOURCE_EXHAUSTED');
      expect(r.message).toMatch(/^Too many failed logins for 'lock-me'/);
      expect(r.headers.get('retry-after') ?? '(no Retry-After header)', `Retry-After on ${path}`).toMatch(/^\d+$/);
    }
  });

  it('refuses a role that does not exist with 400 listing the roles, and changes nothing', async () => {
    const before = await state();
    for (const role of ['Superuser', 'owner', 'Owner ', '', 'Reader,Owner']) {
      const r = await admin('POST', '/workspaces/dev/api/v1/role-assignments', { principal: 'rita', role });
      expect({ role, status: r.status, code: r.code }).toEqual({ role, status: 400, code: 'INVALID_ARGUMENT' });
      expect(r.message).toBe(`Role ${JSON.stringify(role)} does not exist. Roles: 'Owner', 'Contributor', 'Reader', 'Data Scientist', 'Compute Operator'.`);
    }
    // An Owner of dev gets the same answer.
    const byOwner = await call(base, 'POST', '/workspaces/dev/api/v1/role-assignments', { token: anaToken, body: { principal: 'rita', role: 'Superuser' } });
    expect(byOwner.status).toBe(400);
    expect(await state()).toEqual(before);
    const failed = await audit('action=roles/write');
    expect(failed.filter((e) => e.status === 400).every((e) => e.outcome === 'failed')).toBe(true);
    expect(failed.filter((e) => e.status === 400).length).toBeGreaterThanOrEqual(6);
  });

  it('answers an unknown user with 404, wherever a user is named, and changes nothing', async () => {
    const before = await state();
    const cases: [string, string, unknown][] = [
      ['POST', '/workspaces/dev/api/v1/role-assignments', { principal: 'nobody', role: 'Reader' }],
      ['DELETE', '/workspaces/dev/api/v1/role-assignments?principal=nobody&role=Reader', undefined],
      ['POST', '/api/v1/tokens', { principal: 'nobody', name: 'x' }],
      ['POST', '/api/v1/users/nobody/disable', {}],
      ['POST', '/api/v1/users/nobody/enable', {}],
    ];
    for (const [method, path, body] of cases) {
      const r = await admin(method, path, body);
      expect({ path, status: r.status, code: r.code }).toEqual({ path, status: 404, code: 'NOT_FOUND' });
      expect(r.message).toBe("No user or service principal named 'nobody'. List them with 'lapis user list'.");
    }
    // Removing a role the user does not hold: 404 naming it.
    const r = await admin('DELETE', '/workspaces/dev/api/v1/role-assignments?principal=rita&role=Owner');
    expect(r.status).toBe(404);
    expect(r.message).toBe("'rita' has no role 'Owner' in workspace 'dev'.");
    expect(await state()).toEqual(before);
  });

  it('refuses weak passwords and invalid names with 400, and creates no user', async () => {
    const before = await state();
    for (const [body, message] of [
      [{ name: 'weak', password: 'short' }, /at least 12 characters/],
      [{ name: 'weak', password: '' }, /at least 12 characters/],
      [{ name: 'weak', password: 'elevenchars' }, /at least 12 characters/],
      [{ name: 'Weak User', password: 'a long enough password' }, /^Invalid name "Weak User"/],
      [{ name: 'x', password: 'a long enough password' }, /^Invalid name "x"/],
    ] as const) {
      const r = await admin('POST', '/api/v1/users', body);
      expect({ body, status: r.status, code: r.code }).toEqual({ body, status: 400, code: 'INVALID_ARGUMENT' });
      expect(r.message).toMatch(message);
    }
    const dup = await admin('POST', '/api/v1/users', { name: 'ana', password: 'another long password' });
    expect(dup.status).toBe(400);
    expect(dup.code).toBe('ALREADY_EXISTS');
    expect(await state()).toEqual(before);
  });

  it('denies a Reader with 403 and records every denial in the audit log with outcome denied', async () => {
    const rita = (await ok(admin('POST', '/api/v1/tokens', { principal: 'rita', name: 'audit' }), 201)).token as string;
    const before = await state();
    const tries: [string, string, unknown][] = [
      ['POST', `/workspaces/dev${MLFLOW}/experiments/create`, { name: 'by-rita' }],
      ['POST', '/workspaces/dev/api/v1/role-assignments', { principal: 'rita', role: 'Owner' }],
      ['GET', '/workspaces/dev/api/v1/audit', undefined],
      ['DELETE', '/api/v1/workspaces/dev', undefined],
      ['POST', '/api/v1/users', { name: 'rita-friend', password: 'a long enough password' }],
    ];
    for (const [method, path, body] of tries) {
      const r = await call(base, method, path, { token: rita, body });
      expect({ path, status: r.status, code: r.code }).toEqual({ path, status: 403, code: 'PERMISSION_DENIED' });
    }
    expect(await state()).toEqual(before);
    const entries = (await audit('principal=rita')).filter((e) => e.outcome === 'denied');
    expect(entries.map((e) => `${e.method} ${e.action} ${e.status}`).sort()).toEqual(
      ['POST experiments/write 403', 'POST roles/write 403', 'GET audit/read 403', 'DELETE workspaces/delete 403'].sort(),
    );
    expect(entries.every((e) => e.workspace === 'dev')).toBe(true);
    // The admin-only attempt is not in a workspace; admins see it with all=true.
    const all = (await audit('all=true&principal=rita&action=users/write')).filter((e) => e.outcome === 'denied');
    expect(all.map((e) => e.status)).toEqual([403]);
    // Each names where it was sent. (Denials happen before the body is read, so fields of the body,
    // such as the principal a role assignment names, are not in `resource`.)
    expect(entries.find((e) => e.action === 'roles/write')).toMatchObject({ method: 'POST', path: '/api/v1/role-assignments', workspace: 'dev' });
    expect(entries.find((e) => e.action === 'workspaces/delete')).toMatchObject({ method: 'DELETE', path: '/api/v1/workspaces/dev', resource: 'name=dev' });
  });
});

describe('rate limiting (--rate-limit 30)', () => {
  let server: LapisServer;
  let base: string;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    server = await startLapis({ backend: 'sqlite', args: ['--auth', 'on', '--rate-limit', '30'], env: { LAPIS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    base = server.url;
    const login = await call(base, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    const admin = login.json.token as string;
    // A handful of admin calls: well inside the admin's own 30.
    for (const name of ['burst', 'calm']) {
      await call(base, 'POST', '/api/v1/users', { token: admin, body: { name } });
      await call(base, 'POST', '/api/v1/role-assignments', { token: admin, body: { principal: name, role: 'Reader' } });
      tokens[name] = (await call(base, 'POST', '/api/v1/tokens', { token: admin, body: { principal: name } })).json.token as string;
    }
    tokens.admin = admin;
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('answers 429 with Retry-After once a principal exceeds its burst, and only that principal', async () => {
    const statuses: number[] = [];
    let limited: Reply | undefined;
    for (let i = 0; i < 40; i++) {
      const r = await call(base, 'GET', `${MLFLOW}/experiments/search`, { token: tokens.burst });
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    // The bucket holds 30; refills at 1 every 2 s, so a fast burst of 40 gets 30 (maybe 31) through.
    const passed = statuses.filter((s) => s === 200).length;
    expect(passed).toBeGreaterThanOrEqual(30);
    expect(passed).toBeLessThanOrEqual(32);
    expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
    expect(new Set(statuses.slice(32))).toEqual(new Set([429]));
    expect(limited?.code).toBe('REQUEST_LIMIT_EXCEEDED');
    expect(limited?.message).toMatch(/^Rate limit exceeded for 'burst': retry in \d+ s\.$/);
    const retryAfter = Number(limited?.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    // Native routes are limited alike.
    const native = await call(base, 'GET', '/api/v1/auth/whoami', { token: tokens.burst });
    expect(native.status).toBe(429);
    expect(native.code).toBe('RESOURCE_EXHAUSTED');
    expect(native.headers.get('retry-after')).toMatch(/^[12]$/);
    // Another principal is not affected.
    expect((await call(base, 'GET', `${MLFLOW}/experiments/search`, { token: tokens.calm })).status).toBe(200);
    // After Retry-After seconds, the principal may call again.
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 100));
    expect((await call(base, 'GET', `${MLFLOW}/experiments/search`, { token: tokens.burst })).status).toBe(200);
    // The 429s are audited as denied.
    const audit = await call(base, 'GET', '/api/v1/audit?principal=burst', { token: tokens.admin });
    const entries = audit.json.entries as AuditEntry[];
    expect(entries.filter((e) => e.status === 429).every((e) => e.outcome === 'denied')).toBe(true);
    expect(entries.filter((e) => e.status === 429).length).toBeGreaterThanOrEqual(8);
  });
});

describe('token expiry (in-process server, clock moved with a spy on Date.now)', () => {
  let dataDir: string;
  let server: InProcessServer;
  let base: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lapis-access-expiry-'));
    server = await createServer(loadConfig({ dataDir, port: 0, auth: 'on', logLevel: 'silent' }, {}));
    base = (await server.app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const adminToken = (): string => server.bootstrapToken as string;
  const at = (ms: number) => vi.spyOn(Date, 'now').mockImplementation(() => ms);
  const shortToken = async (): Promise<{ id: string; token: string; expires_at: number; created_at: number }> =>
    (await call(base, 'POST', '/api/v1/tokens', { token: adminToken(), body: { principal: 'ana', name: 'short', expires: '1m' } })).json as { id: string; token: string; expires_at: number; created_at: number };
  const expiredMessage = (t: { id: string; expires_at: number }): string => `Token ${t.id} expired at ${new Date(t.expires_at).toISOString()}; create a new one with \`lapis token create\`.`;

  it('accepts a token until it expires, then answers 401 naming the expiry', async () => {
    await call(base, 'POST', '/api/v1/users', { token: adminToken(), body: { name: 'ana' } });
    const t = await shortToken();
    expect(t.expires_at - t.created_at).toBe(60_000);
    expect((await call(base, 'GET', '/api/v1/auth/whoami', { token: t.token })).status).toBe(200);
    // Past the expiry (and past the 10 s credential cache of the call above): refused, naming when it expired.
    for (const when of [t.expires_at + 11_000, t.expires_at + 86_400_000]) {
      at(when);
      const r = await call(base, 'GET', '/api/v1/auth/whoami', { token: t.token });
      expect({ status: r.status, code: r.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
      expect(r.message).toBe(expiredMessage(t));
    }
    // A token without expiry is unaffected.
    expect((await call(base, 'GET', '/api/v1/auth/whoami', { token: adminToken() })).status).toBe(200);
  });

  it('refuses a token from its expiry on, even if it was used (and cached) just before', async () => {
    const t = await shortToken();
    at(t.expires_at - 1_000);
    expect((await call(base, 'GET', '/api/v1/auth/whoami', { token: t.token })).status).toBe(200);
    for (const when of [t.expires_at, t.expires_at + 5_000]) {
      at(when);
      const r = await call(base, 'GET', '/api/v1/auth/whoami', { token: t.token });
      expect({ when: when - t.expires_at, status: r.status, message: r.message }).toEqual({ when: when - t.expires_at, status: 401, message: expiredMessage(t) });
    }
  });
});
