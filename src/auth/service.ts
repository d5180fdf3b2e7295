import { randomBytes } from 'node:crypto';
import { now } from '../core/clock.js';
import { alreadyExists, invalid, LapisError, notFound } from '../core/errors.js';
import type { Database } from '../store/db.js';
import type { PrincipalTable, TokenTable } from '../store/schema.js';
import { checkPasswordStrength, hashPassword, verifyPassword } from './passwords.js';
import { BUILT_IN_ROLES, checkActionPattern, roleAllows, type RoleDefinition } from './roles.js';
import { LoginThrottle } from './throttle.js';
import { newToken, parseToken, secretMatches } from './tokens.js';

export interface Principal {
  id: string;
  name: string;
  kind: 'user' | 'service_principal' | 'local';
  isAdmin: boolean;
}

/** With authentication off, every caller is this one local administrator (still audited). */
export const LOCAL_ADMIN: Principal = Object.freeze({ id: 'local', name: 'local', kind: 'local', isAdmin: true });

const NAME = /^[a-z0-9][a-z0-9._@-]{1,127}$/;
const CACHE_MS = 10_000;

const unauthenticated = (message: string): LapisError => new LapisError('UNAUTHENTICATED', message);

export type Decision = 'allowed' | 'denied' | 'not-member';

export interface TokenInfo {
  id: string;
  name: string;
  principal: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

/**
 * Identity and access: principals (users, service principals), API tokens, role definitions and
 * assignments, and the one `authorize` decision every route goes through.
 */
export class AuthService {
  readonly #database: Database;
  readonly throttle = new LoginThrottle();
  // Verified credentials and role lookups are cached briefly; any change clears the caches, so a
  // revocation takes effect on the next request.
  #credentialCache = new Map<string, { principal: Principal; until: number }>();
  #roleCache = new Map<string, RoleDefinition[]>();
  #lastUsedWrites = new Map<string, number>();

  constructor(database: Database) {
    this.#database = database;
  }

  #invalidate(): void {
    this.#credentialCache.clear();
    this.#roleCache.clear();
  }

  // ---- principals -------------------------------------------------------------------------

  async createPrincipal(req: { name: unknown; kind: 'user' | 'service_principal'; password?: unknown; admin?: boolean; displayName?: unknown }): Promise<Principal> {
    if (typeof req.name !== 'string' || !NAME.test(req.name)) {
      throw invalid(`Invalid name ${JSON.stringify(req.name)}: use 2–128 lowercase letters, digits, '.', '_', '-' or '@', starting with a letter or digit.`);
    }
    let passwordHash: string | null = null;
    if (req.password !== undefined && req.password !== null) {
      if (req.kind === 'service_principal') throw invalid('Service principals authenticate with tokens only; omit the password.');
      try {
        passwordHash = await hashPassword(checkPasswordStrength(req.password));
      } catch (err) {
        throw invalid((err as { reason?: string }).reason ?? String(err));
      }
    }
    if (await this.#database.db.selectFrom('principals').select('id').where('name', '=', req.name).executeTakeFirst()) {
      throw alreadyExists(`A user or service principal named '${req.name}' already exists.`);
    }
    const row: PrincipalTable = {
      id: `p_${randomBytes(12).toString('base64url')}`,
      kind: req.kind,
      name: req.name,
      display_name: typeof req.displayName === 'string' && req.displayName ? req.displayName : req.name,
      password_hash: passwordHash,
      is_admin: req.admin ? 1 : 0,
      disabled: 0,
      created_at: now(),
    };
    await this.#database.db.insertInto('principals').values(row).execute();
    return toPrincipal(row);
  }

  async listPrincipals(): Promise<(Principal & { disabled: boolean; display_name: string; created_at: number })[]> {
    const rows = await this.#database.db.selectFrom('principals').selectAll().orderBy('name').execute();
    return rows.map((r) => ({ ...toPrincipal(r), disabled: r.disabled === 1, display_name: r.display_name, created_at: Number(r.created_at) }));
  }

  async principalByName(name: unknown): Promise<PrincipalTable> {
    if (typeof name !== 'string' || name === '') throw invalid('Missing user or service principal name.');
    const row = await this.#database.db.selectFrom('principals').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound(`No user or service principal named '${name}'. List them with 'lapis user list'.`);
    return row;
  }

  async setDisabled(name: unknown, disabled: boolean): Promise<void> {
    const row = await this.principalByName(name);
    await this.#database.db.updateTable('principals').set({ disabled: disabled ? 1 : 0 }).where('id', '=', row.id).execute();
    this.#invalidate();
  }

  async hasAdmin(): Promise<boolean> {
    return !!(await this.#database.db.selectFrom('principals').select('id').where('is_admin', '=', 1).executeTakeFirst());
  }

  // ---- tokens -----------------------------------------------------------------------------

  async createToken(principalId: string, name: unknown, expiresInMs?: number): Promise<TokenInfo & { token: string }> {
    const label = typeof name === 'string' && name.trim() ? name.trim().slice(0, 128) : 'token';
    if (expiresInMs !== undefined && (!Number.isFinite(expiresInMs) || expiresInMs <= 0 || expiresInMs > 3 * 365 * 86_400_000)) {
      throw invalid('Token lifetime must be positive and at most 3 years (e.g. --expires 30d).');
    }
    const principal = await this.#database.db.selectFrom('principals').select(['name']).where('id', '=', principalId).executeTakeFirstOrThrow();
    const t = newToken();
    const row: TokenTable = {
      id: t.id,
      principal_id: principalId,
      name: label,
      secret_hash: t.secretHash,
      created_at: now(),
      expires_at: expiresInMs === undefined ? null : now() + expiresInMs,
      revoked_at: null,
      last_used_at: null,
    };
    await this.#database.db.insertInto('tokens').values(row).execute();
    return { ...tokenInfo(row, principal.name), token: t.token };
  }

  async listTokens(principalId?: string): Promise<TokenInfo[]> {
    let q = this.#database.db.selectFrom('tokens').innerJoin('principals', 'principals.id', 'tokens.principal_id').selectAll('tokens').select('principals.name as principal_name');
    if (principalId) q = q.where('tokens.principal_id', '=', principalId);
    const rows = await q.orderBy('tokens.created_at', 'desc').execute();
    return rows.map((r) => tokenInfo(r, r.principal_name));
  }

  /** Revokes a token; principals may revoke their own, admins any. */
  async revokeToken(caller: Principal, tokenId: unknown): Promise<void> {
    if (typeof tokenId !== 'string' || tokenId === '') throw invalid('Missing token id.');
    const row = await this.#database.db.selectFrom('tokens').selectAll().where('id', '=', tokenId).executeTakeFirst();
    if (!row || (!caller.isAdmin && row.principal_id !== caller.id)) throw notFound(`No token '${tokenId}'. List yours with 'lapis token list'.`);
    if (row.revoked_at === null) await this.#database.db.updateTable('tokens').set({ revoked_at: now() }).where('id', '=', tokenId).execute();
    this.#invalidate();
  }

  // ---- authentication ---------------------------------------------------------------------

  /** The principal an Authorization header names; undefined when there is none; throws on bad credentials. */
  /**
   * The principal of a recently verified Authorization header, without touching the database or
   * the event loop: the hot path of every authenticated request. Undefined means "verify it".
   */
  cachedPrincipal(header: string | undefined): Principal | undefined {
    if (!header) return undefined;
    // Keyed by the header itself: hashing it would cost more than the lookup it protects, and the
    // header is in this process's memory for the request anyway.
    const cached = this.#credentialCache.get(header);
    return cached && cached.until > Date.now() ? cached.principal : undefined;
  }

  async authenticate(header: string | undefined): Promise<Principal | undefined> {
    if (!header) return undefined;
    const cacheKey = header;
    const hit = this.cachedPrincipal(header);
    if (hit) return hit;
    const [scheme, value = ''] = header.split(/\s+/, 2) as [string, string?];
    let principal: Principal;
    let expiresAt: number | null = null;
    if (/^bearer$/i.test(scheme)) {
      ({ principal, expiresAt } = await this.#verifyToken(value.trim()));
    } else if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const cut = decoded.indexOf(':');
      if (cut < 0) throw unauthenticated('Malformed basic credentials: expected base64 of "username:password".');
      const user = decoded.slice(0, cut);
      const secret = decoded.slice(cut + 1);
      // MLflow clients can carry a token as the basic-auth password, as they can a password.
      if (parseToken(secret)) ({ principal, expiresAt } = await this.#verifyToken(secret));
      else principal = await this.login(user, secret);
    } else {
      // The scheme is not echoed: a token sent without "Bearer " would land in the message.
      throw unauthenticated("Unsupported Authorization scheme: use 'Bearer <token>' or basic auth.");
    }
    // A cached credential never outlives its token.
    this.#credentialCache.set(cacheKey, { principal, until: Math.min(Date.now() + CACHE_MS, expiresAt ?? Number.POSITIVE_INFINITY) });
    return principal;
  }

  async #verifyToken(token: string): Promise<{ principal: Principal; expiresAt: number | null }> {
    const parts = parseToken(token);
    if (!parts) throw unauthenticated('Malformed token: Lapis tokens look like lapis_<id>_<secret>. Create one with `lapis token create`.');
    const row = await this.#database.db
      .selectFrom('tokens')
      .innerJoin('principals', 'principals.id', 'tokens.principal_id')
      .selectAll('principals')
      .select(['tokens.secret_hash', 'tokens.expires_at', 'tokens.revoked_at'])
      .where('tokens.id', '=', parts.id)
      .executeTakeFirst();
    if (!row || !secretMatches(parts.secret, row.secret_hash)) throw unauthenticated('Invalid token: it does not match any token of this server.');
    if (row.revoked_at !== null) throw unauthenticated(`Token ${parts.id} was revoked; create a new one with \`lapis token create\`.`);
    if (row.expires_at !== null && Number(row.expires_at) <= now()) {
      throw unauthenticated(`Token ${parts.id} expired at ${new Date(Number(row.expires_at)).toISOString()}; create a new one with \`lapis token create\`.`);
    }
    if (row.disabled) throw unauthenticated(`'${row.name}' is disabled; ask a server admin to enable it.`);
    const last = this.#lastUsedWrites.get(parts.id) ?? 0;
    if (Date.now() - last > 60_000) {
      this.#lastUsedWrites.set(parts.id, Date.now());
      await this.#database.db.updateTable('tokens').set({ last_used_at: now() }).where('id', '=', parts.id).execute();
    }
    return { principal: toPrincipal(row), expiresAt: row.expires_at === null ? null : Number(row.expires_at) };
  }

  /** Password login, throttled per user name: repeated failures lock the name with growing delays. */
  async login(name: unknown, password: unknown): Promise<Principal> {
    if (typeof name !== 'string' || name === '' || typeof password !== 'string') throw unauthenticated('Missing user name or password.');
    const wait = this.throttle.retryAfter(name);
    if (wait > 0) {
      throw new LapisError('RESOURCE_EXHAUSTED', `Too many failed logins for '${name}'; try again in ${Math.ceil(wait / 1000)} s.`, { retryAfterMs: wait });
    }
    const row = await this.#database.db.selectFrom('principals').selectAll().where('name', '=', name).executeTakeFirst();
    // Hash even for unknown names so response time does not reveal which names exist.
    const ok = row?.password_hash ? await verifyPassword(password, row.password_hash) : (await hashPassword(password), false);
    if (!row || !ok) {
      this.throttle.fail(name);
      throw unauthenticated('Wrong user name or password.');
    }
    if (row.disabled) throw unauthenticated(`'${name}' is disabled; ask a server admin to enable it.`);
    this.throttle.succeed(name);
    return toPrincipal(row);
  }

  // ---- roles and authorization --------------------------------------------------------------

  async listRoles(): Promise<RoleDefinition[]> {
    const rows = await this.#database.db.selectFrom('roles').selectAll().orderBy('name').execute();
    return [
      ...BUILT_IN_ROLES,
      ...rows.map((r) => ({ name: r.name, description: r.description, actions: JSON.parse(r.actions) as string[], notActions: JSON.parse(r.not_actions) as string[], builtIn: false })),
    ];
  }

  async role(name: unknown): Promise<RoleDefinition> {
    const roles = await this.listRoles();
    const found = roles.find((r) => r.name === name);
    if (!found) throw invalid(`Role ${JSON.stringify(name)} does not exist. Roles: ${roles.map((r) => `'${r.name}'`).join(', ')}.`);
    return found;
  }

  async defineRole(req: { name: unknown; description?: unknown; actions: unknown; notActions?: unknown }): Promise<RoleDefinition> {
    if (typeof req.name !== 'string' || !/^[A-Za-z][\w .-]{1,127}$/.test(req.name)) throw invalid(`Invalid role name ${JSON.stringify(req.name)}: use 2–128 letters, digits, spaces, '.', '_' or '-'.`);
    if (!Array.isArray(req.actions) || req.actions.length === 0) throw invalid(`A role needs a non-empty 'actions' list, e.g. ['jobs/*', 'runs/read'].`);
    const actions = req.actions.map(checkActionPattern);
    const notActions = (Array.isArray(req.notActions) ? req.notActions : req.notActions === undefined ? [] : [req.notActions]).map(checkActionPattern);
    if ((await this.listRoles()).some((r) => r.name === req.name)) throw alreadyExists(`Role '${req.name}' already exists.`);
    const description = typeof req.description === 'string' ? req.description : '';
    await this.#database.db.insertInto('roles').values({ name: req.name, description, actions: JSON.stringify(actions), not_actions: JSON.stringify(notActions), created_at: now() }).execute();
    this.#invalidate();
    return { name: req.name, description, actions, notActions, builtIn: false };
  }

  async assign(workspace: string, principalName: unknown, roleName: unknown): Promise<void> {
    const principal = await this.principalByName(principalName);
    const role = await this.role(roleName);
    await this.#database.db
      .insertInto('role_assignments')
      .values({ principal_id: principal.id, workspace, role: role.name, created_at: now() })
      .onConflict((oc) => oc.doNothing())
      .execute();
    this.#invalidate();
  }

  async unassign(workspace: string, principalName: unknown, roleName: unknown): Promise<void> {
    const principal = await this.principalByName(principalName);
    const res = await this.#database.db
      .deleteFrom('role_assignments')
      .where('principal_id', '=', principal.id)
      .where('workspace', '=', workspace)
      .where('role', '=', String(roleName))
      .executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw notFound(`'${principal.name}' has no role '${String(roleName)}' in workspace '${workspace}'.`);
    this.#invalidate();
  }

  async assignments(workspace: string): Promise<{ principal: string; kind: string; role: string; created_at: number }[]> {
    const rows = await this.#database.db
      .selectFrom('role_assignments')
      .innerJoin('principals', 'principals.id', 'role_assignments.principal_id')
      .select(['principals.name as principal', 'principals.kind as kind', 'role_assignments.role as role', 'role_assignments.created_at as created_at'])
      .where('role_assignments.workspace', '=', workspace)
      .orderBy('principals.name')
      .execute();
    return rows.map((r) => ({ ...r, created_at: Number(r.created_at) }));
  }

  async removeWorkspace(workspace: string): Promise<void> {
    await this.#database.db.deleteFrom('role_assignments').where('workspace', '=', workspace).execute();
    this.#invalidate();
  }

  async #rolesOf(principal: Principal, workspace: string): Promise<RoleDefinition[]> {
    const key = `${principal.id}|${workspace}`;
    const cached = this.#roleCache.get(key);
    if (cached) return cached;
    const names = await this.#database.db.selectFrom('role_assignments').select('role').where('principal_id', '=', principal.id).where('workspace', '=', workspace).execute();
    const all = await this.listRoles();
    const roles = all.filter((r) => names.some((n) => n.role === r.name));
    this.#roleCache.set(key, roles);
    return roles;
  }

  /**
   * The one decision every route goes through: may this principal do this action in this
   * workspace? `not-member` (no role there) lets callers answer as if the workspace did not exist.
   * Synchronous when the principal's roles are cached, which is the common case.
   */
  access(principal: Principal, action: string, workspace: string | undefined): Decision | Promise<Decision> {
    if (principal.isAdmin || action.startsWith('self/')) return 'allowed';
    if (workspace === undefined) return 'denied';
    const decide = (roles: RoleDefinition[]): Decision => (roles.length === 0 ? 'not-member' : roles.some((r) => roleAllows(r, action)) ? 'allowed' : 'denied');
    const cached = this.#roleCache.get(`${principal.id}|${workspace}`);
    return cached ? decide(cached) : this.#rolesOf(principal, workspace).then(decide);
  }

  async isMember(principal: Principal, workspace: string): Promise<boolean> {
    return (await this.access(principal, 'workspaces/read', workspace)) !== 'not-member';
  }

  async authorize(principal: Principal, action: string, workspace: string | undefined): Promise<boolean> {
    return (await this.access(principal, action, workspace)) === 'allowed';
  }

  /** The workspaces a principal has roles in, with those roles. */
  async membership(principal: Principal): Promise<{ name: string; roles: string[] }[]> {
    const rows = await this.#database.db.selectFrom('role_assignments').select(['workspace', 'role']).where('principal_id', '=', principal.id).orderBy('workspace').orderBy('role').execute();
    const byWorkspace = new Map<string, string[]>();
    for (const r of rows) byWorkspace.set(r.workspace, [...(byWorkspace.get(r.workspace) ?? []), r.role]);
    return [...byWorkspace].map(([name, roles]) => ({ name, roles }));
  }

  async memberWorkspaces(principal: Principal): Promise<Set<string>> {
    const rows = await this.#database.db.selectFrom('role_assignments').select('workspace').where('principal_id', '=', principal.id).execute();
    return new Set(rows.map((r) => r.workspace));
  }
}

function toPrincipal(row: Pick<PrincipalTable, 'id' | 'name' | 'kind' | 'is_admin'>): Principal {
  return { id: row.id, name: row.name, kind: row.kind, isAdmin: row.is_admin === 1 };
}

function tokenInfo(row: TokenTable, principal: string): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    principal,
    created_at: Number(row.created_at),
    expires_at: row.expires_at === null ? null : Number(row.expires_at),
    revoked_at: row.revoked_at === null ? null : Number(row.revoked_at),
    last_used_at: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}
