import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid, LapisError } from '../core/errors.js';
import type { AuditLog } from './audit.js';
import type { RoleDefinition } from './roles.js';
import type { AuthService, Principal } from './service.js';
import { parseDuration } from './tokens.js';

function duration(text: unknown): number | undefined {
  if (text === undefined || text === null || text === '') return undefined;
  try {
    return parseDuration(String(text));
  } catch (err) {
    throw invalid((err as Error).message);
  }
}

const principalView = (p: Principal) => ({ id: p.id, name: p.name, kind: p.kind, is_admin: p.isAdmin });
const roleView = (r: RoleDefinition) => ({ name: r.name, description: r.description, actions: r.actions, not_actions: r.notActions, built_in: r.builtIn });

function caller(req: FastifyRequest): Principal {
  if (!req.principal) throw new LapisError('UNAUTHENTICATED', 'Authentication required.');
  return req.principal;
}

function requireStoredPrincipal(p: Principal): Principal {
  if (p.kind === 'local') {
    throw new LapisError('BAD_REQUEST', 'Authentication is off on this server, so tokens and logins are not needed. Start it with --auth on to use them.');
  }
  return p;
}

/** Identity, tokens, roles and audit: the native API of the auth room. */
export function authRoutes(app: FastifyInstance, deps: { auth: AuthService; audit: AuditLog; enabled: boolean }): void {
  const { auth, audit } = deps;
  const tags = ['access'];

  app.post(
    '/api/v1/auth/login',
    {
      config: { action: 'auth/login' },
      schema: { summary: 'Exchange a user name and password for an API token', tags, body: Type.Object({ username: Type.String(), password: Type.String(), expires: Type.Optional(Type.String()) }) },
    },
    async (req, reply) => {
      const b = req.body as { username: string; password: string; expires?: string };
      if (!deps.enabled) throw new LapisError('BAD_REQUEST', 'Authentication is off on this server: there is nothing to log in to. Start it with --auth on to use logins and tokens.');
      try {
        const principal = await auth.login(b.username, b.password);
        req.principal = principal;
        return await auth.createToken(principal.id, 'login', duration(b.expires ?? '30d'));
      } catch (err) {
        const wait = (err as LapisError).details?.retryAfterMs;
        if (typeof wait === 'number') reply.header('Retry-After', String(Math.ceil(wait / 1000)));
        throw err;
      }
    },
  );

  app.get('/api/v1/auth/whoami', { config: { action: 'self/read' }, schema: { summary: 'Who the caller is, and where it has roles', tags } }, async (req) => {
    const p = caller(req);
    return { name: p.name, kind: p.kind, is_admin: p.isAdmin, auth_enabled: deps.enabled, workspaces: p.kind === 'local' ? [] : await auth.membership(p) };
  });

  app.get('/api/v1/tokens', { config: { action: 'self/read' }, schema: { summary: "List the caller's tokens (admins: all=true for every token)", tags, querystring: Type.Object({ all: Type.Optional(Type.Boolean()) }) } }, async (req) => {
    const p = caller(req);
    const all = (req.query as { all?: boolean }).all === true;
    if (all && !p.isAdmin) throw new LapisError('PERMISSION_DENIED', 'Only server admins may list every token (all=true).');
    return { tokens: p.kind === 'local' && !all ? [] : await auth.listTokens(all ? undefined : p.id) };
  });

  app.post(
    '/api/v1/tokens',
    {
      config: { action: 'self/write' },
      schema: {
        summary: 'Create an API token (shown once). Admins may create one on behalf of a principal.',
        tags,
        body: Type.Object({ name: Type.Optional(Type.String()), expires: Type.Optional(Type.String({ description: 'e.g. 30d, 12h' })), principal: Type.Optional(Type.String()) }),
      },
    },
    async (req, reply) => {
      const p = caller(req);
      const b = req.body as { name?: string; expires?: string; principal?: string };
      let principalId: string;
      if (b.principal !== undefined && b.principal !== p.name) {
        if (!p.isAdmin) throw new LapisError('PERMISSION_DENIED', `Only server admins may create tokens on behalf of '${b.principal}'.`);
        principalId = (await auth.principalByName(b.principal)).id;
      } else {
        principalId = requireStoredPrincipal(p).id;
      }
      return reply.status(201).send(await auth.createToken(principalId, b.name, duration(b.expires)));
    },
  );

  app.delete('/api/v1/tokens/:id', { config: { action: 'self/write' }, schema: { summary: 'Revoke a token', tags, params: Type.Object({ id: Type.String() }) } }, async (req) => {
    await auth.revokeToken(caller(req), (req.params as { id: string }).id);
    return {};
  });

  app.get('/api/v1/users', { config: { action: 'users/read' }, schema: { summary: 'List users and service principals', tags } }, async () => ({
    principals: (await auth.listPrincipals()).map((p) => ({ ...principalView(p), display_name: p.display_name, disabled: p.disabled, created_at: p.created_at })),
  }));

  app.post(
    '/api/v1/users',
    {
      config: { action: 'users/write' },
      schema: {
        summary: 'Create a user',
        tags,
        body: Type.Object({ name: Type.String(), password: Type.Optional(Type.String()), admin: Type.Optional(Type.Boolean()), display_name: Type.Optional(Type.String()) }),
      },
    },
    async (req, reply) => {
      const b = req.body as { name: string; password?: string; admin?: boolean; display_name?: string };
      return reply.status(201).send(principalView(await auth.createPrincipal({ name: b.name, kind: 'user', password: b.password, admin: b.admin === true, displayName: b.display_name })));
    },
  );

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post(`/api/v1/users/:name/${verb}`, { config: { action: 'users/write' }, schema: { summary: `${verb[0]?.toUpperCase()}${verb.slice(1)} a user or service principal`, tags, params: Type.Object({ name: Type.String() }) } }, async (req) => {
      await auth.setDisabled((req.params as { name: string }).name, disabled);
      return {};
    });
  }

  app.post(
    '/api/v1/service-principals',
    {
      config: { action: 'users/write' },
      schema: { summary: 'Create a service principal (for CI) and its first token', tags, body: Type.Object({ name: Type.String(), display_name: Type.Optional(Type.String()), expires: Type.Optional(Type.String()) }) },
    },
    async (req, reply) => {
      const b = req.body as { name: string; display_name?: string; expires?: string };
      const lifetime = duration(b.expires);
      const principal = await auth.createPrincipal({ name: b.name, kind: 'service_principal', displayName: b.display_name });
      return reply.status(201).send({ principal: principalView(principal), token: await auth.createToken(principal.id, 'initial', lifetime) });
    },
  );

  app.get('/api/v1/roles', { config: { action: 'self/read' }, schema: { summary: 'Role definitions (built-in and custom)', tags } }, async () => ({ roles: (await auth.listRoles()).map(roleView) }));

  app.post(
    '/api/v1/roles',
    {
      config: { action: 'roles/define' },
      schema: {
        summary: 'Define a custom role',
        tags,
        body: Type.Object({ name: Type.String(), description: Type.Optional(Type.String()), actions: Type.Array(Type.String()), not_actions: Type.Optional(Type.Array(Type.String())) }),
      },
    },
    async (req, reply) => {
      const b = req.body as { name: string; description?: string; actions: string[]; not_actions?: string[] };
      return reply.status(201).send(roleView(await auth.defineRole({ name: b.name, description: b.description, actions: b.actions, notActions: b.not_actions })));
    },
  );

  app.get('/api/v1/role-assignments', { config: { action: 'roles/read' }, schema: { summary: "The workspace's role assignments", tags } }, async (req) => ({
    workspace: req.workspaceName,
    assignments: await auth.assignments(req.workspaceName),
  }));

  const Assignment = Type.Object({ principal: Type.String(), role: Type.String() });
  app.post('/api/v1/role-assignments', { config: { action: 'roles/write' }, schema: { summary: 'Assign a role in the workspace', tags, body: Assignment } }, async (req, reply) => {
    const b = req.body as { principal: string; role: string };
    await auth.assign(req.workspaceName, b.principal, b.role);
    return reply.status(201).send({ workspace: req.workspaceName, principal: b.principal, role: b.role });
  });
  app.delete('/api/v1/role-assignments', { config: { action: 'roles/write' }, schema: { summary: 'Remove a role assignment', tags, querystring: Assignment } }, async (req) => {
    const q = req.query as { principal: string; role: string };
    await auth.unassign(req.workspaceName, q.principal, q.role);
    return {};
  });

  app.get(
    '/api/v1/audit',
    {
      config: { action: 'audit/read' },
      schema: {
        summary: "The workspace's audit log, newest first (admins: all=true for every workspace)",
        tags,
        querystring: Type.Object({
          since: Type.Optional(Type.String({ description: 'e.g. 1d, 12h, 90m' })),
          principal: Type.Optional(Type.String()),
          action: Type.Optional(Type.String()),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
          all: Type.Optional(Type.Boolean({ description: 'admins: every workspace, including deleted ones' })),
        }),
      },
    },
    async (req) => {
      const q = req.query as { since?: string; principal?: string; action?: string; limit?: number; all?: boolean };
      const since = duration(q.since);
      if (q.all === true && !caller(req).isAdmin) throw new LapisError('PERMISSION_DENIED', 'Only server admins may read the audit log of every workspace (all=true).');
      const all = q.all === true;
      return {
        entries: await audit.list({
          workspace: all ? undefined : req.workspaceName,
          since: since === undefined ? undefined : Date.now() - since,
          principal: q.principal,
          action: q.action,
          limit: q.limit ?? 1000,
        }),
      };
    },
  );
}
