import { Option, type Command } from 'commander';
import type { Experiment } from '../client/index.js';
import { collect, contextOf, fetchPages, positiveInt, viewOption, viewType, withGlobalOptions } from './context.js';
import { fields, formatTime, note, print, table, truncate } from './output.js';

interface ListOptions {
  filter?: string;
  orderBy?: string[];
  view?: string;
  maxResults?: number;
  all?: boolean;
  pageToken?: string;
}

/** `lapis experiment list | show`. */
export function experimentCommand(program: Command): void {
  const experiment = program.command('experiment').description('Browse experiments: named groups of runs');

  withGlobalOptions(
    experiment
      .command('list')
      .description('List (search) the experiments of the workspace')
      .option('--filter <expr>', "search filter, e.g. \"name LIKE 'fraud-%'\" or \"tags.team = 'risk'\"")
      .addOption(new Option('--order-by <clause>', "sort, e.g. 'name ASC' or 'creation_time DESC'; repeatable").argParser(collect))
      .addOption(viewOption())
      .addOption(new Option('--max-results <n>', 'experiments per page (the server default is 1000)').argParser(positiveInt))
      .option('--all', 'fetch every page')
      .option('--page-token <token>', 'start from this page (printed when more results exist)'),
  ).action(async (opts: ListOptions, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { items, next } = await fetchPages(
      async (pageToken) => {
        const page = await ctx.client.experiments.search({
          ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
          ...(opts.orderBy ? { orderBy: opts.orderBy } : {}),
          view: viewType(opts.view),
          ...(opts.maxResults !== undefined ? { maxResults: opts.maxResults } : {}),
          ...(pageToken !== undefined ? { pageToken } : {}),
        });
        return { items: page.experiments, next: page.next_page_token };
      },
      opts.all === true,
      opts.pageToken,
    );
    const showStage = opts.view !== undefined && opts.view !== 'active';
    print(ctx.output, items, () => {
      if (items.length === 0) return opts.filter ? 'No experiments match the filter.' : `No experiments in workspace '${ctx.workspace}'.`;
      return table(
        ['ID', 'NAME', ...(showStage ? ['STAGE'] : []), 'CREATED', 'LAST UPDATED'],
        items.map((e) => [e.experiment_id, truncate(e.name, 60), ...(showStage ? [e.lifecycle_stage] : []), formatTime(e.creation_time), formatTime(e.last_update_time)]),
      );
    });
    if (next) note(`More experiments match than shown (${items.length}). Pass --all for every page, or --page-token ${next} for the next one.`);
  });

  withGlobalOptions(experiment.command('show').description('Show one experiment').argument('<id-or-name>', "experiment id (e.g. 12) or name (e.g. 'fraud-detection')")).action(
    async (ref: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const e = await ctx.client.experiments.get(ref);
      print(ctx.output, e, () => experimentView(e));
    },
  );
}

function experimentView(e: Experiment): string {
  const head = `Experiment ${e.experiment_id} (${e.name})\n${fields([
    ['Name', e.name],
    ['Lifecycle', e.lifecycle_stage],
    ['Artifact location', e.artifact_location],
    ['Created', formatTime(e.creation_time)],
    ['Last updated', formatTime(e.last_update_time)],
  ])}`;
  const tags = e.tags.length === 0 ? '  No tags.' : table(['KEY', 'VALUE'], [...e.tags].sort((a, b) => a.key.localeCompare(b.key)).map((t) => [t.key, truncate(t.value, 200)]), '  ');
  return `${head}\n\nTags\n${tags}`;
}
