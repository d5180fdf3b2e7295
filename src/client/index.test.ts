import { describe, expect, it } from 'vitest';
import { LapisError } from '../core/errors.js';
import { LapisClient } from './index.js';

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** A fetch that records requests and answers with `reply`. */
function fakeFetch(reply: () => Response | Promise<Response>): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(input), method: init?.method ?? 'GET', headers: (init?.headers ?? {}) as Record<string, string>, body: init?.body as string | undefined });
    return reply();
  }) as typeof fetch;
  return { fetch: fetchFn, seen };
}

const json = (status: number, body: unknown): Response => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('LapisClient requests', () => {
  it('scopes calls to the workspace with the URL prefix, and sends the token', async () => {
    const { fetch, seen } = fakeFetch(() => json(200, { runs: [], next_page_token: null }));
    const client = new LapisClient({ url: 'http://h:5050/', workspace: 'dev', token: 't0k', fetch });
    await client.runs.search({ experiments: ['exp'], orderBy: ['metrics.rmse ASC'], maxResults: 5 });
    expect(seen[0]).toMatchObject({ url: 'http://h:5050/workspaces/dev/api/v1/runs/search', method: 'POST' });
    expect(seen[0]?.headers).toMatchObject({ authorization: 'Bearer t0k', 'content-type': 'application/json' });
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ experiments: ['exp'], order_by: ['metrics.rmse ASC'], max_results: 5 });
  });

  it('never scopes workspace calls, and keeps a path prefix of the server URL', async () => {
    const { fetch, seen } = fakeFetch(() => json(200, { workspaces: [] }));
    await new LapisClient({ url: 'https://proxy/lapis', workspace: 'dev', fetch }).workspaces.list();
    expect(seen[0]?.url).toBe('https://proxy/lapis/api/v1/workspaces');
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it('repeats array query parameters and encodes path segments', async () => {
    const { fetch, seen } = fakeFetch(() => json(200, { experiments: [], next_page_token: null }));
    const client = new LapisClient({ url: 'http://h', fetch });
    await client.experiments.search({ orderBy: ['name ASC', 'creation_time DESC'], view: 'ALL' });
    expect(seen[0]?.url).toBe('http://h/api/v1/experiments?order_by=name+ASC&order_by=creation_time+DESC&view=ALL');
    await client.experiments.get('/Users/me/exp');
    expect(seen[1]?.url).toBe('http://h/api/v1/experiments/%2FUsers%2Fme%2Fexp');
    expect(client.runs.artifactUrl('abc', '/model/dir x/a#b.txt')).toBe('http://h/api/v1/runs/abc/artifacts/model/dir%20x/a%23b.txt');
  });

  it('pages with searchAll until there is no next token', async () => {
    let call = 0;
    const pages = [
      { runs: [{ info: { run_id: 'a' } }], next_page_token: 'p2' },
      { runs: [{ info: { run_id: 'b' } }], next_page_token: null },
    ];
    const { fetch, seen } = fakeFetch(() => json(200, pages[call++]));
    const ids: string[] = [];
    for await (const run of new LapisClient({ url: 'http://h', fetch }).runs.searchAll({ maxResults: 1 })) ids.push(run.info.run_id);
    expect(ids).toEqual(['a', 'b']);
    expect(seen.map((s) => JSON.parse(s.body ?? '{}').page_token)).toEqual([undefined, 'p2']);
  });
});

describe('LapisClient access API', () => {
  it('sends each access call to its path, scoping only role assignments and the audit log', async () => {
    const { fetch, seen } = fakeFetch(() => json(200, {}));
    const c = new LapisClient({ url: 'http://h', workspace: 'dev', token: 't', fetch });
    await c.auth.login('ana', 'pw', { expires: '7d' });
    await c.auth.whoami();
    await c.tokens.list({ all: true });
    await c.tokens.create({ name: 'ci', expires: '30d', principal: 'bot' });
    await c.tokens.revoke('tokAbc');
    await c.users.list();
    await c.users.create('ana', { password: 'pw', admin: false, displayName: 'Ana' });
    await c.users.disable('a b');
    await c.users.enable('ana');
    await c.servicePrincipals.create('ci', { displayName: 'CI', expires: '90d' });
    await c.roles.list();
    await c.roles.define({ name: 'R', actions: ['runs/read'], not_actions: [] });
    await c.roleAssignments.list();
    await c.roleAssignments.assign('ana', 'Data Scientist');
    await c.roleAssignments.remove('ana', 'Data Scientist');
    await c.audit.list({ since: '1d', principal: 'ana', limit: 5, all: false });
    await c.workspaces.delete('dev', { force: true });
    await c.workspaces.delete('dev');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST http://h/api/v1/auth/login',
      'GET http://h/api/v1/auth/whoami',
      'GET http://h/api/v1/tokens?all=true',
      'POST http://h/api/v1/tokens',
      'DELETE http://h/api/v1/tokens/tokAbc',
      'GET http://h/api/v1/users',
      'POST http://h/api/v1/users',
      'POST http://h/api/v1/users/a%20b/disable',
      'POST http://h/api/v1/users/ana/enable',
      'POST http://h/api/v1/service-principals',
      'GET http://h/api/v1/roles',
      'POST http://h/api/v1/roles',
      'GET http://h/workspaces/dev/api/v1/role-assignments',
      'POST http://h/workspaces/dev/api/v1/role-assignments',
      'DELETE http://h/workspaces/dev/api/v1/role-assignments?principal=ana&role=Data+Scientist',
      'GET http://h/workspaces/dev/api/v1/audit?since=1d&principal=ana&limit=5',
      'DELETE http://h/api/v1/workspaces/dev?force=true',
      'DELETE http://h/api/v1/workspaces/dev',
    ]);
    const bodies = seen.map((s) => (s.body === undefined ? undefined : (JSON.parse(s.body) as unknown)));
    expect(bodies[0]).toEqual({ username: 'ana', password: 'pw', expires: '7d' });
    expect(bodies[3]).toEqual({ name: 'ci', expires: '30d', principal: 'bot' });
    expect(bodies[6]).toEqual({ name: 'ana', password: 'pw', admin: false, display_name: 'Ana' });
    expect(bodies[9]).toEqual({ name: 'ci', display_name: 'CI', expires: '90d' });
    expect(bodies[11]).toEqual({ name: 'R', actions: ['runs/read'], not_actions: [] });
    expect(bodies[13]).toEqual({ principal: 'ana', role: 'Data Scientist' });
  });

  it('withToken keeps the server and workspace and swaps the credentials', async () => {
    const { fetch, seen } = fakeFetch(() => json(200, {}));
    const c = new LapisClient({ url: 'http://h', workspace: 'dev', token: 'old', fetch });
    expect(c.hasToken).toBe(true);
    await c.withToken('new').roleAssignments.list();
    await c.withToken(undefined).auth.whoami();
    expect(seen[0]).toMatchObject({ url: 'http://h/workspaces/dev/api/v1/role-assignments', headers: { authorization: 'Bearer new' } });
    expect(seen[1]?.headers.authorization).toBeUndefined();
  });

  it('refuses an empty token id or user name before any request', async () => {
    const { fetch, seen } = fakeFetch(() => json(200, {}));
    const c = new LapisClient({ url: 'http://h', fetch });
    await expect(c.tokens.revoke('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.users.disable('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.workspaces.delete('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(seen).toEqual([]);
  });
});

describe('LapisClient errors', () => {
  it("rebuilds the server's LapisError", async () => {
    const { fetch } = fakeFetch(() => json(400, { error: { code: 'INVALID_ARGUMENT', message: 'Invalid filter', details: { position: 3 } } }));
    const err = await new LapisClient({ url: 'http://h', fetch }).runs.search().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LapisError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'Invalid filter', details: { position: 3 }, status: 400 });
  });

  it('maps an MLflow-shaped or non-JSON answer by its status', async () => {
    const mlflow = fakeFetch(() => json(404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'gone' }));
    await expect(new LapisClient({ url: 'http://h', fetch: mlflow.fetch }).runs.get('x')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'gone' });
    const proxy = fakeFetch(() => new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    await expect(new LapisClient({ url: 'http://h', fetch: proxy.fetch }).version()).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'GET http://h/api/v1/version failed with HTTP 502 Bad Gateway: <html>Bad Gateway</html>',
    });
  });

  it('turns a refused connection into UNAVAILABLE naming the URL and the fix', async () => {
    const refused = (async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    }) as typeof fetch;
    const err = await new LapisClient({ url: 'http://127.0.0.1:5999', fetch: refused }).version().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    expect((err as Error).message).toBe(
      "Cannot reach the Lapis server at http://127.0.0.1:5999 (connection refused). Start one with 'lapis server', or point to a running server with --server <url> or LAPIS_URL.",
    );
  });

  it('refuses a malformed server URL or an empty id before any request', async () => {
    expect(() => new LapisClient({ url: 'localhost:5050' })).toThrow(/Invalid server URL 'localhost:5050'/);
    const { fetch, seen } = fakeFetch(() => json(200, {}));
    await expect(new LapisClient({ url: 'http://h', fetch }).runs.get('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(seen).toEqual([]);
  });
});
