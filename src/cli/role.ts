import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import YAML from 'yaml';
import { LapisError, type RoleSpec } from '../client/index.js';
import { contextOf, withGlobalOptions } from './context.js';
import { formatTime, print, table, truncate } from './output.js';
import { readStdin } from './prompt.js';

interface AssignOptions {
  user?: string;
  principal?: string;
  role: string;
}

/** `lapis role list | create | assign | remove | assignments`. */
export function roleCommand(program: Command): void {
  const role = program.command('role').description('Roles: what principals may do in a workspace (built-in and custom), and who holds them');

  withGlobalOptions(role.command('list').description('List role definitions, built-in and custom')).action(async (_opts: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { roles } = await ctx.client.roles.list();
    print(ctx.output, roles, () =>
      table(
        ['NAME', 'TYPE', 'ACTIONS', 'NOT ACTIONS', 'DESCRIPTION'],
        roles.map((r) => [r.name, r.built_in ? 'built-in' : 'custom', r.actions.join(', '), r.not_actions.join(', ') || '-', truncate(r.description, 60)]),
      ),
    );
  });

  withGlobalOptions(
    role
      .command('create')
      .description('Define a custom role from a YAML file (name, description, actions, not_actions) (server admins)')
      .requiredOption('-f, --file <path>', "the role file ('-' reads stdin)"),
  ).action(async (opts: { file: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const source = opts.file === '-' ? 'stdin' : opts.file;
    let text: string;
    try {
      text = opts.file === '-' ? await readStdin() : await readFile(opts.file, 'utf8');
    } catch (err) {
      throw new LapisError('INVALID_ARGUMENT', `Cannot read the role file '${opts.file}': ${(err as Error).message}`);
    }
    const spec = parseRoleSpec(text, source);
    const r = await ctx.client.roles.define(spec);
    print(ctx.output, r, () =>
      `Defined role '${r.name}': allows ${r.actions.join(', ')}${r.not_actions.length ? ` except ${r.not_actions.join(', ')}` : ''}.\n` +
        `Assign it with: lapis role assign --user <name> --role ${shellQuote(r.name)} -w <workspace>`,
    );
  });

  const principalOptions = (c: Command): Command =>
    c
      .option('--user <name>', 'user or service principal name')
      .option('--principal <name>', 'the same as --user')
      .requiredOption('--role <role>', "role name, e.g. 'Reader' or 'Data Scientist' (see 'lapis role list')");

  withGlobalOptions(principalOptions(role.command('assign').description('Give a user or service principal a role in the workspace (-w)'))).action(
    async (opts: AssignOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      const principal = principalOf(opts);
      const a = await ctx.client.roleAssignments.assign(principal, opts.role);
      print(ctx.output, a, () => `Assigned role '${a.role}' to ${a.principal} in workspace '${a.workspace}'.`);
    },
  );

  withGlobalOptions(principalOptions(role.command('remove').description('Take a role away from a user or service principal in the workspace (-w)'))).action(
    async (opts: AssignOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      const principal = principalOf(opts);
      await ctx.client.roleAssignments.remove(principal, opts.role);
      print(ctx.output, { workspace: ctx.workspace, principal, role: opts.role }, () => `Removed role '${opts.role}' from ${principal} in workspace '${ctx.workspace}'.`);
    },
  );

  withGlobalOptions(role.command('assignments').description('List who holds which role in the workspace (-w)')).action(async (_opts: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { workspace, assignments } = await ctx.client.roleAssignments.list();
    print(ctx.output, assignments, () =>
      assignments.length === 0
        ? `No role assignments in workspace '${workspace}'.`
        : table(
            ['PRINCIPAL', 'KIND', 'ROLE', 'ASSIGNED'],
            assignments.map((a) => [a.principal, a.kind === 'service_principal' ? 'service principal' : a.kind, a.role, formatTime(a.created_at)]),
          ),
    );
  });
}

function principalOf(opts: AssignOptions): string {
  if (opts.user !== undefined && opts.principal !== undefined && opts.user !== opts.principal) {
    throw new LapisError('INVALID_ARGUMENT', `--user '${opts.user}' and --principal '${opts.principal}' disagree: pass one of them.`);
  }
  const name = (opts.user ?? opts.principal ?? '').trim();
  if (!name) throw new LapisError('INVALID_ARGUMENT', 'Name who gets the role: --user <name> (a user or service principal).');
  return name;
}

const ROLE_KEYS = ['name', 'description', 'actions', 'not_actions'];

/**
 * Reads a custom role from YAML (JSON is YAML too) and checks its shape, so a mistake is reported
 * with the file and the field before anything is sent. `notActions` is accepted as well, so the
 * output of `lapis role list -o yaml` can be edited and fed back (its `built_in` must be false).
 */
export function parseRoleSpec(text: string, source: string): RoleSpec {
  const fail = (message: string): never => {
    throw new LapisError('INVALID_ARGUMENT', `${source}: ${message}`);
  };
  let data: unknown;
  try {
    data = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    fail(`not valid YAML: ${(err as Error).message}`);
  }
  const example = "e.g.\n  name: Experimenter\n  description: Runs and models, nothing else\n  actions: [experiments/*, runs/*, models/read]\n  not_actions: [runs/delete]";
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail(`expected a mapping with name, description, actions and not_actions, ${example}`);
  const doc = { ...(data as Record<string, unknown>) };
  if ('notActions' in doc) {
    if ('not_actions' in doc) fail("give either 'not_actions' or 'notActions', not both");
    doc.not_actions = doc.notActions;
    delete doc.notActions;
  }
  for (const key of ['builtIn', 'built_in']) {
    if (key in doc) {
      if (doc[key] !== false) fail(`'${key}: true' roles cannot be created; drop the key`);
      delete doc[key];
    }
  }
  const unknown = Object.keys(doc).filter((k) => !ROLE_KEYS.includes(k));
  if (unknown.length > 0) fail(`unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}: a role has ${ROLE_KEYS.join(', ')}`);
  if (typeof doc.name !== 'string' || doc.name.trim() === '') fail(`'name' must be a non-empty string, ${example}`);
  if (doc.description !== undefined && doc.description !== null && typeof doc.description !== 'string') fail("'description' must be a string");
  const list = (key: 'actions' | 'not_actions', required: boolean): string[] | undefined => {
    const v = doc[key];
    if (v === undefined || v === null) {
      if (required) fail(`'${key}' is missing: list the actions the role allows, e.g. [runs/read, jobs/*]`);
      return undefined;
    }
    const items = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(items)) fail(`'${key}' must be a list of action patterns such as runs/read, jobs/* or */read`);
    (items as unknown[]).forEach((a, i) => {
      if (typeof a !== 'string' || a.trim() === '') fail(`'${key}[${i}]' must be an action pattern string such as runs/read, not ${JSON.stringify(a)}`);
    });
    if (required && (items as unknown[]).length === 0) fail(`'${key}' is empty: a role must allow at least one action`);
    return (items as string[]).map((a) => a.trim());
  };
  const actions = list('actions', true) ?? [];
  const notActions = list('not_actions', false);
  return {
    name: (doc.name as string).trim(),
    ...(typeof doc.description === 'string' ? { description: doc.description } : {}),
    actions,
    ...(notActions !== undefined ? { not_actions: notActions } : {}),
  };
}

const shellQuote = (s: string): string => (/^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
