import { InvalidArgumentError, Option, type Command } from 'commander';
import { contextOf, durationArg, withGlobalOptions } from './context.js';
import { formatTime, note, print, table, truncate } from './output.js';

interface AuditOptions {
  since?: string;
  principal?: string;
  action?: string;
  limit?: number;
  all?: boolean;
}

function limitArg(value: string): number {
  const n = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 10_000) throw new InvalidArgumentError('Use a whole number from 1 to 10000.');
  return n;
}

/** `lapis audit list`. */
export function auditCommand(program: Command): void {
  const audit = program.command('audit').description('The audit log: every change and every denied request (Owners of the workspace, server admins)');

  withGlobalOptions(
    audit
      .command('list')
      .description("List the workspace's audit log, newest first")
      .addOption(new Option('--since <duration>', 'only entries this recent, e.g. 1d, 12h, 90m').argParser(durationArg))
      .option('--principal <name>', 'only what this user or service principal did')
      .option('--action <action>', 'only this action, e.g. roles/write or workspaces/delete')
      .addOption(new Option('--limit <n>', 'at most this many entries (1–10000; the server default is 1000)').argParser(limitArg))
      .option('--all', 'every workspace, not just -w (server admins only)'),
  ).action(async (opts: AuditOptions, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { entries } = await ctx.client.audit.list({
      ...(opts.since !== undefined ? { since: opts.since } : {}),
      ...(opts.principal !== undefined ? { principal: opts.principal } : {}),
      ...(opts.action !== undefined ? { action: opts.action } : {}),
      ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      ...(opts.all ? { all: true } : {}),
    });
    const all = opts.all === true;
    print(ctx.output, entries, () =>
      entries.length === 0
        ? `No audit entries${all ? '' : ` in workspace '${ctx.workspace}'`}${opts.since ? ` in the last ${opts.since}` : ''} match.`
        : table(
            ['TIME', 'PRINCIPAL', ...(all ? ['WORKSPACE'] : []), 'ACTION', 'RESOURCE', 'OUTCOME', 'STATUS', 'CLIENT'],
            entries.map((e) => [
              formatTime(Number(e.time)),
              e.principal,
              ...(all ? [e.workspace ?? '-'] : []),
              e.action,
              truncate(e.resource, 60),
              e.outcome,
              String(e.status),
              e.client_ip,
            ]),
          ),
    );
    const limit = opts.limit ?? 1000;
    if (entries.length >= limit) note(`Showing the newest ${entries.length} entries; there may be more. Narrow with --since, --principal or --action, or raise --limit.`);
  });
}
