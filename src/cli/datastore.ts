import type { Command } from 'commander';
import { downloadDatastorePath } from '../client/download.js';
import { parseDatastoreUri, plural } from '../client/index.js';
import { withDownload } from './asset-common.js';
import { contextOf, withGlobalOptions } from './context.js';
import { formatBytes, print, table } from './output.js';

/** `lapis datastore list | files | download`: what jobs and the data collector wrote to datastores. */
export function datastoreCommand(program: Command): void {
  const ds = program.command('datastore').description('Datastores: files that jobs write by path and that deployments collect (azureml://datastores/<name>/paths/<path>)');

  withGlobalOptions(ds.command('list').description("List the workspace's datastores")).action(async (_opts: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const list = await ctx.client.datastores.list();
    print(ctx.output, list, () => table(['NAME', 'TYPE', 'DEFAULT', 'DESCRIPTION'], list.map((d) => [d.name, d.type, d.is_default ? 'yes' : '', d.description])));
  });

  withGlobalOptions(ds.command('files').description('List the files under a datastore path').argument('<uri>', 'azureml://datastores/<datastore>/paths/<path>')).action(
    async (uri: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const listing = await ctx.client.datastores.files(parseDatastoreUri(uri));
      print(ctx.output, listing, () =>
        listing.files.length === 0 ? `Nothing is stored at ${uri}.` : `${table(['PATH', 'SIZE'], listing.files.map((f) => [f.path, formatBytes(f.size)]))}\n${plural(listing.files.length, 'file')}, ${formatBytes(listing.files.reduce((n, f) => n + f.size, 0))}`,
      );
    },
  );

  withGlobalOptions(
    ds
      .command('download')
      .description('Download the files under a datastore path, keeping their layout')
      .argument('<uri>', 'azureml://datastores/<datastore>/paths/<path>')
      .option('--download-path <dir>', 'local folder (default: the current folder)'),
  ).action(async (uri: string, opts: { downloadPath?: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const result = await withDownload((p) => downloadDatastorePath(ctx.client, uri, { ...(opts.downloadPath ? { dest: opts.downloadPath } : {}), ...p }));
    print(ctx.output, result, () => `Downloaded ${plural(result.files.length, 'file')} (${formatBytes(result.bytes)}) from ${uri} to ${result.local_path}`);
  });
}
