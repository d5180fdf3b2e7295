import { describe, expect, it } from 'vitest';
import { LapisError } from '../core/errors.js';
import { ADMIN_ACTIONS, BUILT_IN_ROLES, checkActionPattern, matches, PUBLIC_ACTIONS, roleAllows, SELF_ACTIONS, WORKSPACE_ACTIONS, type RoleDefinition } from './roles.js';

describe('matches', () => {
  it('matches an exact action and nothing else', () => {
    expect(matches('runs/read', 'runs/read')).toBe(true);
    expect(matches('runs/read', 'runs/write')).toBe(false);
    expect(matches('runs/read', 'experiments/read')).toBe(false);
  });

  it("'*' matches every action", () => {
    for (const action of [...WORKSPACE_ACTIONS, ...ADMIN_ACTIONS, ...SELF_ACTIONS]) expect(matches('*', action), action).toBe(true);
  });

  it("'*/read' matches the read verb of every area, and only it", () => {
    expect(matches('*/read', 'runs/read')).toBe(true);
    expect(matches('*/read', 'audit/read')).toBe(true);
    expect(matches('*/read', 'runs/write')).toBe(false);
    expect(matches('*/read', 'runs/delete')).toBe(false);
    // A segment must match whole, not as a prefix or suffix.
    expect(matches('*/read', 'runs/reader')).toBe(false);
    expect(matches('*/read', 'runs/unread')).toBe(false);
  });

  it("'jobs/*' matches every verb of one area, and only that area", () => {
    expect(matches('jobs/*', 'jobs/read')).toBe(true);
    expect(matches('jobs/*', 'jobs/write')).toBe(true);
    expect(matches('jobs/*', 'jobs/delete')).toBe(true);
    expect(matches('jobs/*', 'runs/read')).toBe(false);
    expect(matches('jobs/*', 'jobsx/read')).toBe(false);
    expect(matches('compute/*', 'computer/read')).toBe(false);
  });

  it("'*/*' matches every two-segment action", () => {
    expect(matches('*/*', 'runs/read')).toBe(true);
    expect(matches('*/*', 'compute/delete')).toBe(true);
  });
});

describe('checkActionPattern', () => {
  it('accepts exact actions and whole-segment wildcards', () => {
    for (const p of ['runs/read', 'jobs/*', '*/read', '*', '*/*', 'model-deployments/write']) expect(checkActionPattern(p)).toBe(p);
  });

  it('rejects malformed patterns with INVALID_ARGUMENT and an example', () => {
    const bad: unknown[] = ['', 'runs', 'runs/', '/read', 'runs/read/extra', 'run*/read', 'runs/re*', '**', 'Runs/read', 'runs/READ', ' runs/read', 'runs/read ', '1runs/read', '-a/read', 'runs//read', 'runs/*/read', 42, null, undefined, ['runs/read'], { action: 'runs/read' }];
    for (const p of bad) {
      let caught: unknown;
      try {
        checkActionPattern(p);
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(p)).toBeInstanceOf(LapisError);
      expect((caught as LapisError).code).toBe('INVALID_ARGUMENT');
      expect((caught as LapisError).message).toMatch(/Invalid action pattern .*'<area>\/<verb>'/);
    }
  });
});

// Written out by hand, one row per action: the role definitions must produce exactly this.
// O = Owner, C = Contributor, R = Reader, D = Data Scientist, P = Compute Operator.
const TABLE: Record<(typeof WORKSPACE_ACTIONS)[number], string> = {
  'workspaces/read': 'O C R D P',
  'workspaces/write': 'O C',
  'workspaces/delete': 'O C',
  'experiments/read': 'O C R D',
  'experiments/write': 'O C D',
  'experiments/delete': 'O C D',
  'runs/read': 'O C R D',
  'runs/write': 'O C D',
  'runs/delete': 'O C D',
  'models/read': 'O C R D',
  'models/write': 'O C D',
  'models/delete': 'O C D',
  'artifacts/read': 'O C R D',
  'artifacts/write': 'O C D',
  'artifacts/delete': 'O C D',
  'data/read': 'O C R D',
  'data/write': 'O C D',
  'data/delete': 'O C D',
  'environments/read': 'O C R D',
  'environments/write': 'O C D',
  'components/read': 'O C R D',
  'components/write': 'O C D',
  'roles/read': 'O C R D',
  'roles/write': 'O',
  'audit/read': 'O',
  'compute/read': 'O C R D P',
  'compute/write': 'O C P',
  'compute/delete': 'O C P',
  'jobs/read': 'O C R D',
  'jobs/write': 'O C D',
  'endpoints/read': 'O C R D',
  'endpoints/write': 'O C D',
  'endpoints/delete': 'O C D',
};
const LETTER: Record<string, string> = { O: 'Owner', C: 'Contributor', R: 'Reader', D: 'Data Scientist', P: 'Compute Operator' };

describe('built-in roles', () => {
  const role = (name: string): RoleDefinition => {
    const found = BUILT_IN_ROLES.find((r) => r.name === name);
    if (!found) throw new Error(`no built-in role ${name}`);
    return found;
  };

  it('are exactly the five documented ones, all marked built-in', () => {
    expect(BUILT_IN_ROLES.map((r) => r.name).sort()).toEqual(Object.values(LETTER).sort());
    for (const r of BUILT_IN_ROLES) {
      expect(r.builtIn).toBe(true);
      expect(r.description).not.toBe('');
      for (const p of [...r.actions, ...r.notActions]) expect(checkActionPattern(p)).toBe(p);
    }
  });

  it('the expected table covers every workspace action', () => {
    expect(Object.keys(TABLE).sort()).toEqual([...WORKSPACE_ACTIONS].sort());
  });

  for (const action of WORKSPACE_ACTIONS) {
    it(`${action}: allowed to exactly ${TABLE[action]}`, () => {
      const allowed = TABLE[action].split(' ').map((l) => LETTER[l]);
      for (const r of BUILT_IN_ROLES) expect(roleAllows(r, action), `${r.name} × ${action}`).toBe(allowed.includes(r.name));
    });
  }

  it('Owner is allowed everything in a workspace', () => {
    for (const a of WORKSPACE_ACTIONS) expect(roleAllows(role('Owner'), a), a).toBe(true);
  });

  it('Contributor: everything but roles/write and audit/read', () => {
    for (const a of WORKSPACE_ACTIONS) expect(roleAllows(role('Contributor'), a), a).toBe(a !== 'roles/write' && a !== 'audit/read');
  });

  it('Reader: only */read, and not audit/read', () => {
    for (const a of WORKSPACE_ACTIONS) expect(roleAllows(role('Reader'), a), a).toBe(a.endsWith('/read') && a !== 'audit/read');
  });

  it('Data Scientist: everything but compute/write|delete, workspaces/write|delete, roles/write, audit/read', () => {
    const denied = ['compute/write', 'compute/delete', 'workspaces/write', 'workspaces/delete', 'roles/write', 'audit/read'];
    for (const a of WORKSPACE_ACTIONS) expect(roleAllows(role('Data Scientist'), a), a).toBe(!denied.includes(a));
  });

  it('Compute Operator: compute/* and workspaces/read only', () => {
    for (const a of WORKSPACE_ACTIONS) expect(roleAllows(role('Compute Operator'), a), a).toBe(a.startsWith('compute/') || a === 'workspaces/read');
  });

  it('notActions win over actions', () => {
    const r: RoleDefinition = { name: 'x', description: '', actions: ['runs/*'], notActions: ['runs/delete'], builtIn: false };
    expect(roleAllows(r, 'runs/read')).toBe(true);
    expect(roleAllows(r, 'runs/delete')).toBe(false);
    expect(roleAllows({ ...r, actions: [] }, 'runs/read')).toBe(false);
  });

  it('action sets are disjoint: workspace, admin, self and public', () => {
    const all = [...WORKSPACE_ACTIONS, ...ADMIN_ACTIONS, ...SELF_ACTIONS, ...PUBLIC_ACTIONS];
    expect(new Set(all).size).toBe(all.length);
  });
});
