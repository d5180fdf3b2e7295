import type { Command } from 'commander';
import { LapisError, type Workspace } from '../client/index.js';
import { contextOf, withGlobalOptions } from './context.js';
import { fields, formatTime, print, table } from './output.js';
import { interactive, promptLine } from './prompt.js';

/** `lapis workspace list | show | create | delete`. */
export function workspaceCommand(program: Command): void {
  const workspace = program.command('workspace').description('Manage workspaces: separate sets of experiments, runs and artifacts on one server');

  withGlobalOptions(workspace.command('list').description('List the workspaces of the server')).action(async (_opts: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { workspaces } = await ctx.client.workspaces.list();
    print(ctx.output, workspaces, () =>
      workspaces.length === 0
        ? 'No workspaces.'
        : table(
            ['NAME', 'DESCRIPTION', 'CREATED'],
            workspaces.map((w) => [w.name, w.description, formatTime(w.created_at)]),
          ),
    );
  });

  withGlobalOptions(workspace.command('show').description('Show one workspace').argument('<name>', 'workspace name')).action(
    async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const w = await ctx.client.workspaces.get(name);
      print(ctx.output, w, () => workspaceView(w));
    },
  );

  withGlobalOptions(
    workspace
      .command('create')
      .description('Create a workspace (2–63 lowercase letters, digits and dashes)')
      .argument('<name>', "workspace name, e.g. 'dev' or 'team-a'")
      .option('--description <text>', 'what the workspace is for'),
  ).action(async (name: string, opts: { description?: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const w = await ctx.client.workspaces.create(name, opts.description === undefined ? {} : { description: opts.description });
    print(ctx.output, w, () => `Created workspace '${w.name}'. Use it with -w ${w.name} or LAPIS_WORKSPACE=${w.name}.\n${workspaceView(w)}`);
  });

  withGlobalOptions(
    workspace
      .command('delete')
      .description('Delete a workspace (Owners); refused while it holds experiments, runs or models, unless --force')
      .argument('<name>', 'workspace name')
      .option('--force', 'delete everything in it too: experiments, runs, models, artifacts and role assignments')
      .option('--yes', 'do not ask for confirmation (on a terminal, you are asked to type the name)'),
  ).action(async (name: string, opts: { force?: boolean; yes?: boolean }, cmd: Command) => {
    const ctx = contextOf(cmd);
    if (!opts.yes && interactive()) {
      const w = await ctx.client.workspaces.get(name);
      const held = Object.entries(w.resources ?? {}).filter(([, n]) => n > 0);
      // A non-empty workspace without --force is refused by the server, with the counts: no need to ask.
      if (held.length === 0 || opts.force) {
        process.stderr.write(
          `This deletes workspace '${name}'${held.length > 0 ? ` and everything in it: ${counts(held)}` : ''}, with its role assignments. It cannot be undone.\n`,
        );
        const answer = (await promptLine(`Type the workspace name (${name}) to confirm: `)).trim();
        if (answer !== name) throw new LapisError('INVALID_ARGUMENT', `Not confirmed ('${answer}' is not '${name}'): nothing was deleted.`);
      }
    }
    const result = await ctx.client.workspaces.delete(name, { force: opts.force === true });
    const held = Object.entries(result.removed).filter(([, n]) => n > 0);
    print(ctx.output, result, () => `Deleted workspace '${result.deleted}'${held.length > 0 ? ` and everything in it: ${counts(held)}` : ' (it was empty)'}.`);
  });
}

function counts(held: [string, number][]): string {
  return held.map(([kind, n]) => `${n} ${kind.replace(/_/g, ' ')}`).join(', ');
}

function workspaceView(w: Workspace): string {
  return `Workspace ${w.name}\n${fields([
    ['Description', w.description || '-'],
    ['Created', formatTime(w.created_at)],
    ...Object.entries(w.resources ?? {}).map(([kind, n]): [string, string] => [capitalize(kind.replace(/_/g, ' ')), String(n)]),
  ])}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
