import { invalid } from '../core/errors.js';

/**
 * Role definitions as data, in Azure's shape: a role allows `actions` minus its `notActions`.
 * Actions are `<area>/<verb>`; patterns may use `*` for a whole segment (`jobs/*`, `*\/read`).
 */
export interface RoleDefinition {
  name: string;
  description: string;
  actions: string[];
  notActions: string[];
  builtIn: boolean;
}

/** Every action a workspace-scoped route can declare. Server-scoped actions are admin-only. */
export const WORKSPACE_ACTIONS = [
  'workspaces/read',
  'workspaces/write',
  'workspaces/delete',
  'experiments/read',
  'experiments/write',
  'experiments/delete',
  'runs/read',
  'runs/write',
  'runs/delete',
  'models/read',
  'models/write',
  'models/delete',
  'artifacts/read',
  'artifacts/write',
  'artifacts/delete',
  'data/read',
  'data/write',
  'data/delete',
  'environments/read',
  'environments/write',
  'components/read',
  'components/write',
  'roles/read',
  'roles/write',
  'audit/read',
  'compute/read',
  'compute/write',
  'compute/delete',
  'jobs/read',
  'jobs/write',
  'endpoints/read',
  'endpoints/write',
  'endpoints/delete',
] as const;

/** Server-level actions: only server admins hold them. */
export const ADMIN_ACTIONS = ['workspaces/create', 'users/read', 'users/write', 'roles/define', 'registries/create'] as const;

/** Actions every authenticated principal holds for itself (its own tokens, its identity). */
export const SELF_ACTIONS = ['self/read', 'self/write'] as const;

/** Actions open to anyone, authenticated or not. */
/** Open to anyone: health, metrics, logging in, and scoring (an endpoint checks its own keys). */
export const PUBLIC_ACTIONS = ['server/health', 'server/metrics', 'auth/login', 'endpoints/score'] as const;

export const BUILT_IN_ROLES: readonly RoleDefinition[] = [
  { name: 'Owner', description: 'Everything in the workspace, including role assignment and the audit log.', actions: ['*'], notActions: [], builtIn: true },
  {
    name: 'Contributor',
    description: 'Create, change and delete assets, run jobs, deploy, manage compute; no role assignment.',
    actions: ['*'],
    notActions: ['roles/write', 'audit/read'],
    builtIn: true,
  },
  { name: 'Reader', description: 'Read everything except secrets and the audit log.', actions: ['*/read'], notActions: ['audit/read'], builtIn: true },
  {
    name: 'Data Scientist',
    description: 'Everything in the workspace except compute create/delete, workspace changes and role assignment.',
    actions: ['*'],
    notActions: ['compute/write', 'compute/delete', 'workspaces/write', 'workspaces/delete', 'roles/write', 'audit/read'],
    builtIn: true,
  },
  { name: 'Compute Operator', description: 'Compute targets only.', actions: ['compute/*', 'workspaces/read'], notActions: [], builtIn: true },
];

const PATTERN = /^(\*|[a-z][a-z-]*)\/(\*|[a-z][a-z-]*)$|^\*$/;

export function checkActionPattern(pattern: unknown): string {
  if (typeof pattern !== 'string' || !PATTERN.test(pattern)) {
    throw invalid(`Invalid action pattern ${JSON.stringify(pattern)}: use '<area>/<verb>' with '*' for a whole segment, e.g. 'runs/read', 'jobs/*', '*/read' or '*'.`);
  }
  return pattern;
}

export function matches(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  const [pa, pv] = pattern.split('/');
  const [aa, av] = action.split('/');
  return (pa === '*' || pa === aa) && (pv === '*' || pv === av);
}

export function roleAllows(role: RoleDefinition, action: string): boolean {
  return role.actions.some((p) => matches(p, action)) && !role.notActions.some((p) => matches(p, action));
}
