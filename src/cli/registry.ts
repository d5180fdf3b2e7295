import type { Command } from 'commander';
import type { Registry } from '../client/index.js';
import { contextOf, withGlobalOptions } from './context.js';
import { fields, formatTime, print, table } from './output.js';

/** `lapis registry create | list`: scopes for models, environments, components and data shared by every workspace. */
export function registryCommand(program: Command): void {
  const registry = program.command('registry').description('Registries: share models, environments, components and data across workspaces');

  withGlobalOptions(
    registry
      .command('create')
      .description('Create a registry (2–63 lowercase letters, digits and dashes)')
      .argument('<name>', "registry name, e.g. 'shared'")
      .option('--description <text>', 'what the registry is for'),
  ).action(async (name: string, opts: { description?: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const r = await ctx.client.registries.create(name, opts.description === undefined ? {} : { description: opts.description });
    print(
      ctx.output,
      r,
      () =>
        `Created registry '${r.name}'.\n${registryView(r)}\nShare to it with 'lapis model share --name <n> --version <v> --registry ${r.name}'; use what it holds from any workspace as azureml://registries/${r.name}/models/<n>/versions/<v>.`,
    );
  });

  withGlobalOptions(registry.command('list').description('List the registries of the server')).action(async (_opts: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { registries } = await ctx.client.registries.list();
    print(ctx.output, registries, () =>
      registries.length === 0 ? "No registries. Create one with 'lapis registry create <name>'." : table(['NAME', 'DESCRIPTION', 'CREATED'], registries.map((r) => [r.name, r.description, formatTime(r.created_at)])),
    );
  });
}

function registryView(r: Registry): string {
  return fields([
    ['Description', r.description || '-'],
    ['Created', formatTime(r.created_at)],
  ]);
}
