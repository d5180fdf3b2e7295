import type { Command } from 'commander';
import type { ComputeTarget } from '../client/index.js';
import { readSpec, specOptions } from './asset-common.js';
import { contextOf, withGlobalOptions } from './context.js';
import { fields, formatTime, print, table } from './output.js';

/** `lapis compute create | list | show | delete`: compute targets and their queues. */
export function computeCommand(program: Command): void {
  const compute = program.command('compute').description("Compute targets: slots that jobs queue for ('local' is built in)");

  withGlobalOptions(specOptions(compute.command('create').description('Create a compute target from its YAML (type: local, max_instances: slots)'), 'compute')).action(
    async (opts: { file: string; set?: string[] }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { spec } = await readSpec('compute', opts.file, opts.set);
      const created = await ctx.client.computes.create(spec as unknown as Record<string, unknown>);
      print(ctx.output, created, () => `Created compute target ${created.name} (${created.max_instances} slot${created.max_instances === 1 ? '' : 's'}). Use it with compute: azureml:${created.name}`);
    },
  );

  withGlobalOptions(compute.command('list').description('List compute targets with their busy slots and queue')).action(async (_opts: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const list = await ctx.client.computes.list();
    print(ctx.output, list, () =>
      table(
        ['NAME', 'TYPE', 'SLOTS', 'BUSY', 'QUEUED', 'CREATED'],
        list.map((c) => [c.name, c.type, String(c.max_instances), String(c.running ?? 0), String(c.queued ?? 0), c.built_in ? 'built in' : formatTime(c.created_at)]),
      ),
    );
  });

  withGlobalOptions(compute.command('show').description('Show a compute target and the jobs on it').argument('<name>', "compute name (e.g. 'local')")).action(
    async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const c = await ctx.client.computes.get(name);
      print(ctx.output, c, () => view(c));
    },
  );

  withGlobalOptions(compute.command('delete').description('Delete a compute target (refused while jobs are queued or running on it)').argument('<name>', 'compute name')).action(
    async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      await ctx.client.computes.delete(name);
      print(ctx.output, { deleted: name }, () => `Deleted compute target ${name}.`);
    },
  );
}

function view(c: ComputeTarget): string {
  const head = fields([
    ['Name', c.name],
    ['Type', c.type],
    ['Slots', String(c.max_instances)],
    ['Busy', String(c.running ?? 0)],
    ['Queued', String(c.queued ?? 0)],
    ...(c.description ? ([['Description', c.description]] as [string, string][]) : []),
  ]);
  const jobs = c.jobs ?? [];
  return jobs.length ? `${head}\n\nJobs:\n${table(['NAME', 'STATUS', 'SLOTS'], jobs.map((j) => [j.name, j.status, String(j.slots)]), '  ')}` : head;
}
