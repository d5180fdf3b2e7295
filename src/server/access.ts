import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditLog } from '../auth/audit.js';
import { ADMIN_ACTIONS, PUBLIC_ACTIONS, SELF_ACTIONS } from '../auth/roles.js';
import { LOCAL_ADMIN, type AuthService, type Principal } from '../auth/service.js';
import type { RateLimiter } from '../auth/throttle.js';
import { LapisError } from '../core/errors.js';
import type { WorkspaceService } from '../workspaces/service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    /** The route names its workspace in this path parameter instead of the URL prefix / header. */
    workspaceParam?: string;
  }
}

const isPublic = (action: string): boolean => (PUBLIC_ACTIONS as readonly string[]).includes(action);
const isAdminOnly = (action: string): boolean => (ADMIN_ACTIONS as readonly string[]).includes(action);
const isSelf = (action: string): boolean => (SELF_ACTIONS as readonly string[]).includes(action);
const isRead = (action: string): boolean => action.endsWith('/read') || isPublic(action);

/** Identifying fields of a request, for the audit log's `resource` column. */
function resourceOf(req: FastifyRequest): string {
  const fields = { ...(req.query as object), ...(req.body && typeof req.body === 'object' && !('pipe' in req.body) ? (req.body as object) : {}), ...(req.params as object) } as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ['run_id', 'run_uuid', 'experiment_id', 'model_id', 'name', 'principal', 'role', '*', 'id']) {
    const v = fields[key];
    if ((typeof v === 'string' || typeof v === 'number') && String(v) !== '') parts.push(`${key === '*' ? 'path' : key}=${String(v).slice(0, 200)}`);
    if (parts.length >= 2) break;
  }
  return parts.join(' ') || (req.routeOptions.url ?? req.url);
}

/**
 * The access layer every route passes through: authenticate, rate-limit, resolve the workspace
 * (unknown and not-a-member look the same, so names cannot be probed), authorize the route's
 * declared action, and audit every change and every denial.
 */
export function registerAccess(
  app: FastifyInstance,
  deps: { enabled: boolean; auth: AuthService; workspaces: WorkspaceService; audit: AuditLog; limiter: RateLimiter },
): void {
  app.decorateRequest('principal', undefined);

  // onRequest, before the body is read or validated: an unauthenticated caller learns nothing
  // about a route's input shape and costs no parsing.
  app.addHook('onRequest', async (req, reply) => {
    const action = req.routeOptions.config?.action;
    // Unmatched URLs have no action: the not-found handler answers them without touching data.
    if (!action || isPublic(action)) return;
    let principal: Principal | undefined;
    try {
      // Cached credentials, workspaces and roles are read synchronously: an authenticated request
      // pays a few map lookups, and the database only on a miss.
      principal = deps.enabled ? (deps.auth.cachedPrincipal(req.headers.authorization) ?? (await deps.auth.authenticate(req.headers.authorization))) : LOCAL_ADMIN;
    } catch (err) {
      // A locked-out password (basic auth) says when to retry, as the login route does.
      const wait = (err as LapisError).details?.retryAfterMs;
      if (typeof wait === 'number') reply.header('Retry-After', String(Math.ceil(wait / 1000)));
      throw err;
    }
    if (!principal) {
      throw new LapisError(
        'UNAUTHENTICATED',
        'Authentication required: send a token as "Authorization: Bearer <token>" (MLFLOW_TRACKING_TOKEN for MLflow clients, `lapis login` for the CLI), or basic auth (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD).',
      );
    }
    req.principal = principal;
    const wait = deps.limiter.take(principal.id);
    if (wait > 0) {
      reply.header('Retry-After', String(Math.ceil(wait / 1000)));
      throw new LapisError('RESOURCE_EXHAUSTED', `Rate limit exceeded for '${principal.name}': retry in ${Math.ceil(wait / 1000)} s.`);
    }
    if (isSelf(action)) return;
    if (isAdminOnly(action)) {
      if (!principal.isAdmin) throw new LapisError('PERMISSION_DENIED', `'${principal.name}' may not ${action}: only server admins may.`);
      return;
    }
    const param = req.routeOptions.config.workspaceParam;
    const name = param ? ((req.params as Record<string, string>)[param] ?? '') : req.workspaceName;
    req.workspaceName = name;
    const ws = deps.workspaces.cached(name) ?? (await deps.workspaces.find(name));
    const pending = deps.auth.access(principal, action, name);
    const decision = typeof pending === 'string' ? pending : await pending;
    if (!ws || decision === 'not-member') {
      throw new LapisError('NOT_FOUND', `Workspace '${name}' does not exist or you have no role in it. List yours with 'lapis workspace list'.`);
    }
    req.workspace = ws;
    if (decision !== 'allowed') {
      throw new LapisError('PERMISSION_DENIED', `'${principal.name}' may not ${action} in workspace '${name}': none of its roles there allows it. An Owner can grant one with 'lapis role assign'.`);
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const action = req.routeOptions.config?.action;
    const status = reply.statusCode;
    const denied = status === 401 || status === 403 || status === 429;
    if (!action || (isRead(action) && !denied)) return;
    deps.audit.record({
      time: Date.now(),
      principal: req.principal?.name ?? 'anonymous',
      workspace: req.workspaceName || null,
      action,
      resource: resourceOf(req),
      outcome: denied ? 'denied' : status < 400 ? 'allowed' : 'failed',
      status,
      client_ip: req.ip,
      request_id: String(req.id),
      method: req.method,
      path: req.url.split('?')[0] ?? req.url,
    });
  });
}
