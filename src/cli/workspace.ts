import type { Command } from 'commander';
import type { Workspace } from '../client/index.js';
import { contextOf, withGlobalOptions } from './context.js';
import { fields, formatTime, print, table } from './output.js';

/** `lapis workspace list | show | create`. */
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
