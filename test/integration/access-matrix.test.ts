/**
 * The permission matrix, generated from the route table: every route the server registers × every
 * built-in role, each one a real HTTP request, checked against an explicit table of who may do what.
 *
 * The route table has no HTTP endpoint, so the server runs in-process (createServer + listen on
 * loopback) and `server.routes` lists every route with its declared action. A route whose action is
 * not in EXPECTED fails the suite: a new route cannot ship without a rule here.
 *
 * Requests: workspace routes under `/workspaces/dev`, where each role user holds exactly its role;
 * path parameters filled with a dummy (`x`), except on routes that take their workspace from a path
 * parameter (found by probing as the admin), which get `dev` — and, in a second pass, `prod`, where
 * no role user has any role, which must answer 404 as for a workspace that does not exist.
 * Non-GET requests carry the empty JSON body `{}`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { BUILT_IN_ROLES, roleAllows, WORKSPACE_ACTIONS } from '../../src/auth/roles.js';
import { createServer, type LapisServer } from '../../src/server/app.js';

const ROLES = ['Owner', 'Contributor', 'Reader', 'Data Scientist', 'Compute Operator'] as const;
type Role = (typeof ROLES)[number];
const [O, C, R, D, P] = ROLES;

/** Who may call a route declaring each action. `public`: no token needed; `self`: any authenticated caller; `admin`: server admins only. */
type Rule = 'public' | 'self' | 'admin' | readonly Role[];
const EXPECTED: Record<string, Rule> = {
  'server/health': 'public',
  'server/metrics': 'public',
  'auth/login': 'public',
  'self/read': 'self',
  'self/write': 'self',
  'workspaces/create': 'admin',
  'users/read': 'admin',
  'users/write': 'admin',
  'roles/define': 'admin',
  'registries/create': 'admin',
  'workspaces/read': [O, C, R, D, P],
  'workspaces/write': [O, C],
  'workspaces/delete': [O, C],
  'experiments/read': [O, C, R, D],
  'experiments/write': [O, C, D],
  'experiments/delete': [O, C, D],
  'runs/read': [O, C, R, D],
  'runs/write': [O, C, D],
  'runs/delete': [O, C, D],
  'models/read': [O, C, R, D],
  'models/write': [O, C, D],
  'models/delete': [O, C, D],
  'artifacts/read': [O, C, R, D],
  'artifacts/write': [O, C, D],
  'artifacts/delete': [O, C, D],
  'data/read': [O, C, R, D],
  'data/write': [O, C, D],
  'data/delete': [O, C, D],
  'environments/read': [O, C, R, D],
  'environments/write': [O, C, D],
  'components/read': [O, C, R, D],
  'jobs/read': [O, C, R, D],
  'jobs/write': [O, C, D],
  'endpoints/read': [O, C, R, D],
  'endpoints/write': [O, C, D],
  'endpoints/delete': [O, C, D],
  'endpoints/score': 'public',
  'components/write': [O, C, D],
  'roles/read': [O, C, R, D],
  'roles/write': [O],
  'audit/read': [O],
  'compute/read': [O, C, R, D, P],
  'compute/write': [O, C, P],
  'compute/delete': [O, C, P],
};

const USER: Record<Role, string> = { Owner: 'owner', Contributor: 'contributor', Reader: 'reader', 'Data Scientist': 'data-scientist', 'Compute Operator': 'compute-operator' };
const NO_ROLE = /^Workspace '([^']*)' does not exist or you have no role in it\./;

interface Answer {
  status: number;
  code: string | undefined;
  message: string;
}

// ---- the server, in-process: its route table is only available here -------------------------------------

const dataDir = await mkdtemp(join(tmpdir(), 'lapis-access-matrix-'));
const server: LapisServer = await createServer(loadConfig({ dataDir, port: 0, auth: 'on', logLevel: 'silent' }, {}));
const ROUTES = [...server.routes];
let base = '';
const tokens = {} as Record<Role, string>;
let adminToken = '';
/** `METHOD url` of routes whose workspace is a path parameter (found in beforeAll). */
const paramScoped = new Set<string>();

const key = (r: { method: string; url: string }): string => `${r.method} ${r.url}`;
const fill = (url: string, value: string): string => url.replace(/:[A-Za-z0-9_]+/g, value).replace(/\*$/, value);
const isWorkspaceAction = (action: string): boolean => (WORKSPACE_ACTIONS as readonly string[]).includes(action);

async function call(method: string, path: string, token?: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    body = '{}';
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let json: { error_code?: string; message?: string; error?: { code?: string; message?: string } } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // not JSON (e.g. /metrics, /health, artifact bytes)
  }
  return { status: res.status, code: json.error_code ?? json.error?.code, message: json.message ?? json.error?.message ?? text.slice(0, 200) };
}

async function admin(method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** The request a role sends for a route, with path parameters filled with `value`. */
function pathOf(route: { url: string; action: string }, value: string): string {
  const path = fill(route.url, value);
  return isWorkspaceAction(route.action) ? `/workspaces/dev${path}` : path;
}

beforeAll(async () => {
  base = (await server.app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  if (!server.bootstrapToken) throw new Error('the first start with --auth on must hand out the admin token');
  adminToken = server.bootstrapToken;

  await admin('POST', '/api/v1/workspaces', { name: 'dev' });
  await admin('POST', '/api/v1/workspaces', { name: 'prod' });
  // Something in dev, so that an allowed DELETE of the workspace answers 409 instead of removing it.
  await admin('POST', '/workspaces/dev/api/2.0/mlflow/experiments/create', { name: 'keep-dev-non-empty' });
  for (const role of ROLES) {
    await admin('POST', '/api/v1/users', { name: USER[role] });
    await admin('POST', '/workspaces/dev/api/v1/role-assignments', { principal: USER[role], role });
    tokens[role] = (await admin('POST', '/api/v1/tokens', { principal: USER[role], name: 'matrix' })).token as string;
  }

  // Which routes name their workspace in a path parameter: the admin passes the access layer in
  // every existing workspace, so only those routes answer "workspace does not exist" for this value.
  for (const route of ROUTES) {
    if (!/[:*]/.test(route.url) || !isWorkspaceAction(route.action)) continue;
    const res = await call(route.method, pathOf(route, 'no-such-ws'), adminToken);
    if (res.status === 404 && NO_ROLE.exec(res.message)?.[1] === 'no-such-ws') paramScoped.add(key(route));
  }
}, 120_000);

afterAll(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the expected table', () => {
  it('lists every action a registered route declares (add a rule to EXPECTED for a new action)', () => {
    const missing = [...new Set(ROUTES.filter((r) => !(r.action in EXPECTED)).map((r) => `${key(r)} declares '${r.action}'`))];
    expect(missing, 'routes whose action has no rule in EXPECTED').toEqual([]);
  });

  it('agrees with the built-in role definitions', () => {
    for (const action of WORKSPACE_ACTIONS) {
      const rule = EXPECTED[action];
      expect(Array.isArray(rule), action).toBe(true);
      for (const role of BUILT_IN_ROLES) expect((rule as readonly Role[]).includes(role.name as Role), `${role.name} × ${action}`).toBe(roleAllows(role, action));
    }
  });

  it('found the routes that take their workspace from a path parameter', () => {
    expect([...paramScoped]).toEqual(expect.arrayContaining(['GET /api/v1/workspaces/:name', 'DELETE /api/v1/workspaces/:name', 'GET /api/3.0/mlflow/workspaces/:name']));
  });

  it('the route table is non-trivial', () => {
    expect(ROUTES.length).toBeGreaterThan(100);
  });
});

describe.each(ROUTES.map((r) => ({ ...r, name: `${r.method} ${r.url} (${r.action})` })))('$name', (route) => {
  const rule: Rule | undefined = EXPECTED[route.action];

  it('answers every built-in role as EXPECTED says', async () => {
    expect(rule, `no rule for ${route.action}`).toBeDefined();
    if (rule === 'public' || rule === undefined) return;
    const scoped = paramScoped.has(key(route));
    const problems: string[] = [];
    for (const role of ROLES) {
      const allowed = rule === 'self' ? true : rule === 'admin' ? false : rule.includes(role);
      const res = await call(route.method, pathOf(route, scoped ? 'dev' : 'x'), tokens[role]);
      const seen = `${res.status} ${res.code ?? ''}: ${res.message}`;
      if (res.status === 401) problems.push(`${role}: 401 with a valid token (${seen})`);
      else if (res.status === 500) problems.push(`${role}: internal error (${seen})`);
      else if (allowed && (res.status === 403 || (res.status === 404 && NO_ROLE.test(res.message)))) problems.push(`${role}: should be allowed, got ${seen}`);
      else if (!allowed && !(res.status === 403 && res.code === 'PERMISSION_DENIED')) problems.push(`${role}: should be denied with 403 PERMISSION_DENIED, got ${seen}`);
    }
    expect(problems).toEqual([]);
  });

  it('answers 401 UNAUTHENTICATED without a token (unless public)', async () => {
    const res = await call(route.method, pathOf(route, paramScoped.has(key(route)) ? 'dev' : 'x'));
    if (rule === 'public') {
      expect(res.status, `${res.status} ${res.message}`).not.toBe(401);
      expect(res.status).not.toBe(403);
      expect(res.status).not.toBe(500);
    } else {
      expect({ status: res.status, code: res.code }, res.message).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    }
  });
});

describe('param-scoped routes found by probing', () => {
  it('answer 404 in a workspace where the role has no role, for every role', async () => {
    expect(paramScoped.size).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const route of ROUTES.filter((r) => paramScoped.has(key(r)))) {
      // Exactly what a workspace that does not exist answers, so names cannot be probed.
      const missing = await call(route.method, pathOf(route, 'no-such-ws'), tokens.Owner);
      for (const role of ROLES) {
        const res = await call(route.method, pathOf(route, 'prod'), tokens[role]);
        const same = res.status === 404 && res.code === missing.code && res.message.replace(`'prod'`, `'?'`) === missing.message.replace(`'no-such-ws'`, `'?'`);
        if (!same || NO_ROLE.exec(res.message)?.[1] !== 'prod') problems.push(`${key(route)} as ${role}: ${res.status} ${res.code ?? ''} ${res.message}`);
      }
    }
    expect(problems).toEqual([]);
    // And prod is untouched: the admin still sees it.
    expect((await call('GET', '/api/v1/workspaces/prod', adminToken)).status).toBe(200);
  });
});

/**
 * The routes whose schema requires fields that `{}` lacks, again with input that passes the schema:
 * the access decision itself must match EXPECTED, and a denied request must create nothing.
 */
describe('schema-validated routes, with input that passes the schema', () => {
  const VALID: Record<string, { query?: string; body?: unknown }> = {
    'POST /api/v1/workspaces': { body: { name: 'matrix-probe' } },
    'POST /api/v1/users': { body: { name: 'matrix-probe', password: 'a long enough password' } },
    'POST /api/v1/service-principals': { body: { name: 'matrix-probe-sp' } },
    'POST /api/v1/roles': { body: { name: 'Matrix Probe', actions: ['runs/read'] } },
    'POST /api/v1/role-assignments': { body: { principal: 'no-such-user', role: 'Reader' } },
    'DELETE /api/v1/role-assignments': { query: 'principal=no-such-user&role=Reader' },
  };

  it.each(Object.keys(VALID))('%s', async (name) => {
    const route = ROUTES.find((r) => key(r) === name);
    expect(route, `${name} is no longer registered`).toBeDefined();
    if (!route) return;
    const input = VALID[name] ?? {};
    const rule = EXPECTED[route.action] as Rule;
    const send = async (token?: string): Promise<Answer> => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(`${base}${pathOf(route, 'x')}${input.query ? `?${input.query}` : ''}`, { method: route.method, headers, body: JSON.stringify(input.body ?? {}) });
      const json = (await res.json()) as { error?: { code?: string; message?: string } };
      return { status: res.status, code: json.error?.code, message: json.error?.message ?? '' };
    };
    const anonymous = await send();
    expect({ status: anonymous.status, code: anonymous.code }, anonymous.message).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    for (const role of ROLES) {
      const allowed = rule === 'self' ? true : rule === 'admin' || rule === 'public' ? false : rule.includes(role);
      const res = await send(tokens[role]);
      if (allowed) expect([401, 403], `${role}: ${res.status} ${res.message}`).not.toContain(res.status);
      else expect({ role, status: res.status, code: res.code }, res.message).toEqual({ role, status: 403, code: 'PERMISSION_DENIED' });
    }
  });

  it('created nothing', async () => {
    const users = (await admin('GET', '/api/v1/users', undefined)) as { principals: { name: string }[] };
    expect(users.principals.map((p) => p.name).filter((n) => n.startsWith('matrix-probe'))).toEqual([]);
    const workspaces = (await admin('GET', '/api/v1/workspaces', undefined)) as { workspaces: { name: string }[] };
    expect(workspaces.workspaces.map((w) => w.name).sort()).toEqual(['default', 'dev', 'prod']);
    const roles = (await admin('GET', '/api/v1/roles', undefined)) as { roles: { name: string }[] };
    expect(roles.roles.map((r) => r.name)).not.toContain('Matrix Probe');
  });
});
