import { Option, type Command } from 'commander';
import type { Experiment, JsonNumber, Run } from '../client/index.js';
import { downloadArtifacts, type DownloadProgress } from '../client/download.js';
import { collect, contextOf, fetchPages, positiveInt, viewOption, viewType, withGlobalOptions } from './context.js';
import { fields, formatBytes, formatDuration, formatTime, note, print, table, truncate } from './output.js';

interface ListOptions {
  experiment?: string[];
  filter?: string;
  orderBy?: string[];
  view?: string;
  maxResults?: number;
  all?: boolean;
  pageToken?: string;
}

/** `lapis run list | show | artifacts list | artifacts download`. */
export function runCommand(program: Command): void {
  const run = program.command('run').description('Browse runs: their params, metrics, tags, datasets and artifacts');

  withGlobalOptions(
    run
      .command('list')
      .description('List (search) runs; the table shows the metrics, params and tags named in --filter and --order-by')
      .addOption(new Option('--experiment <id-or-name>', "experiment to search; repeatable (default: the workspace's Default experiment)").argParser(collect))
      .option('--filter <expr>', "search filter, e.g. \"metrics.rmse < 0.8 and params.alpha = '0.5'\"")
      .addOption(new Option('--order-by <clause>', "sort, e.g. 'metrics.rmse ASC'; repeatable").argParser(collect))
      .addOption(viewOption())
      .addOption(new Option('--max-results <n>', 'runs per page (the server default is 100)').argParser(positiveInt))
      .option('--all', 'fetch every page')
      .option('--page-token <token>', 'start from this page (printed when more results exist)'),
  ).action(async (opts: ListOptions, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { items, next } = await fetchPages(
      async (pageToken) => {
        const page = await ctx.client.runs.search({
          ...(opts.experiment ? { experiments: opts.experiment } : {}),
          ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
          ...(opts.orderBy ? { orderBy: opts.orderBy } : {}),
          view: viewType(opts.view),
          ...(opts.maxResults !== undefined ? { maxResults: opts.maxResults } : {}),
          ...(pageToken !== undefined ? { pageToken } : {}),
        });
        return { items: page.runs, next: page.next_page_token };
      },
      opts.all === true,
      opts.pageToken,
    );
    print(ctx.output, items, () => runTable(items, opts));
    if (next) note(`More runs match than shown (${items.length}). Pass --all for every page, or --page-token ${next} for the next one.`);
  });

  withGlobalOptions(run.command('show').description('Show a run: info, params, latest metrics, tags and datasets').argument('<run-id>', 'run id')).action(
    async (runId: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client.runs.get(runId);
      if (ctx.output !== 'table') return print(ctx.output, r, () => '');
      // The experiment's name makes the view readable; the run is shown even if it cannot be read.
      const experiment = await ctx.client.experiments.get(r.info.experiment_id).catch(() => undefined);
      print(ctx.output, r, () => runView(r, experiment));
    },
  );

  const artifacts = run.command('artifacts').description("List and download a run's artifacts");

  withGlobalOptions(
    artifacts
      .command('list')
      .description("List a run's artifacts (one directory level, or every file with --recursive)")
      .argument('<run-id>', 'run id')
      .option('--path <path>', 'directory under the artifact root, e.g. model')
      .option('--recursive', 'every file below the path'),
  ).action(async (runId: string, opts: { path?: string; recursive?: boolean }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { files } = await ctx.client.runs.listArtifacts(runId, { ...(opts.path !== undefined ? { path: opts.path } : {}), recursive: opts.recursive === true });
    print(ctx.output, files, () => {
      if (files.length === 0) return opts.path ? `No artifacts under '${opts.path}'.` : `Run ${runId} has no artifacts.`;
      return table(
        ['PATH', 'TYPE', 'SIZE'],
        files.map((f) => [f.is_dir ? `${f.path}/` : f.path, f.is_dir ? 'dir' : 'file', f.is_dir ? '-' : formatBytes(f.file_size)]),
      );
    });
  });

  withGlobalOptions(
    artifacts
      .command('download')
      .description('Download a file or a directory (the whole run by default), streaming to disk')
      .argument('<run-id>', 'run id')
      .option('--path <path>', 'file or directory under the artifact root, e.g. model (default: everything)')
      .option('--dest <dir>', 'local folder; the artifact path is recreated below it', '.'),
  ).action(async (runId: string, opts: { path?: string; dest: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const bar = process.stderr.isTTY ? progressLine() : undefined;
    // Ctrl-C stops the transfers and removes the partial files instead of leaving them behind.
    const interrupt = new AbortController();
    const onSigint = (): void => interrupt.abort();
    process.once('SIGINT', onSigint);
    let summary;
    try {
      summary = await downloadArtifacts(ctx.client, runId, {
        ...(opts.path !== undefined ? { path: opts.path } : {}),
        dest: opts.dest,
        signal: interrupt.signal,
        ...(bar ? { onProgress: bar.update } : {}),
      });
    } catch (err) {
      if (!interrupt.signal.aborted) throw err;
      bar?.done();
      note('error: download interrupted; incomplete files were removed.');
      process.exit(130);
    } finally {
      bar?.done();
      process.off('SIGINT', onSigint);
    }
    print(ctx.output, summary, () => summary.files.map((f) => f.local_path).join('\n'));
    if (summary.files.length === 0) note(summary.path ? `Artifact directory '${summary.path}' of run ${runId} holds no files.` : `Run ${runId} has no artifacts.`);
    else if (bar) note(`Downloaded ${summary.files.length} file${summary.files.length === 1 ? '' : 's'} (${formatBytes(summary.bytes)}) to ${summary.local_path}`);
  });
}

/** A `\r`-rewritten progress line on stderr, at most ten updates a second. */
function progressLine(): { update: (p: DownloadProgress) => void; done: () => void } {
  let last = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100 && p.files < p.totalFiles) return;
      last = now;
      shown = true;
      const pct = p.totalBytes > 0 ? ` (${Math.floor((p.bytes / p.totalBytes) * 100)}%)` : '';
      process.stderr.write(`\r\x1b[KDownloading: ${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}${pct}, ${p.files}/${p.totalFiles} files`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

type ColumnKind = 'metrics' | 'params' | 'tags';
interface Column {
  kind: ColumnKind;
  key: string;
}

const KINDS: Record<string, ColumnKind> = {
  metric: 'metrics',
  metrics: 'metrics',
  param: 'params',
  params: 'params',
  parameter: 'params',
  parameters: 'params',
  tag: 'tags',
  tags: 'tags',
};

// Single-quoted runs are values (skipped); then `kind.key`, `kind.`quoted key``, or a whole quoted `"kind.key"`.
const REFERENCE =
  /'(?:[^'\\]|\\.)*'|(?<![\p{L}\p{N}_.])([A-Za-z]+)\.(?:`([^`]*)`|"([^"]*)"|([\p{L}\p{N}_][\p{L}\p{N}_.\-/]*))|[`"]([A-Za-z]+)\.([^`"]+)[`"]/gu;

/** The metrics, params and tags a filter and order-by name, in order, so the table shows them. */
export function referencedColumns(texts: string[]): Column[] {
  const out: Column[] = [];
  for (const text of texts) {
    for (const m of text.matchAll(REFERENCE)) {
      const kind = KINDS[(m[1] ?? m[5] ?? '').toLowerCase()];
      const key = m[2] ?? m[3] ?? m[4] ?? m[6];
      if (!kind || !key) continue;
      if (!out.some((c) => c.kind === kind && c.key === key)) out.push({ kind, key });
    }
  }
  return out;
}

const showNumber = (v: JsonNumber): string => String(v);

function cell(r: Run, c: Column): string {
  if (c.kind === 'metrics') {
    const m = r.data.metrics.find((x) => x.key === c.key);
    return m ? showNumber(m.value) : '-';
  }
  const v = (c.kind === 'params' ? r.data.params : r.data.tags).find((x) => x.key === c.key)?.value;
  return v === undefined ? '-' : truncate(v, 40);
}

const duration = (r: Run): string => (r.info.end_time === undefined ? '-' : formatDuration(r.info.end_time - r.info.start_time));

function runTable(runs: Run[], opts: ListOptions): string {
  if (runs.length === 0) return opts.filter ? 'No runs match the filter.' : 'No runs.';
  const columns = referencedColumns([opts.filter ?? '', ...(opts.orderBy ?? [])]);
  const manyExperiments = new Set(runs.map((r) => r.info.experiment_id)).size > 1;
  return table(
    ['RUN ID', 'NAME', ...(manyExperiments ? ['EXPERIMENT'] : []), 'STATUS', 'START TIME', 'DURATION', ...columns.map((c) => `${c.kind}.${c.key}`)],
    runs.map((r) => [
      r.info.run_id,
      truncate(r.info.run_name, 40),
      ...(manyExperiments ? [r.info.experiment_id] : []),
      r.info.status,
      formatTime(r.info.start_time),
      duration(r),
      ...columns.map((c) => cell(r, c)),
    ]),
  );
}

function runView(r: Run, experiment: Experiment | undefined): string {
  const i = r.info;
  const info = `Run ${i.run_id}\n${fields([
    ['Name', i.run_name],
    ['Experiment', experiment ? `${experiment.name} (${i.experiment_id})` : i.experiment_id],
    ['Status', i.status],
    ['Start time', formatTime(i.start_time)],
    ['End time', formatTime(i.end_time)],
    ['Duration', duration(r)],
    ['User', i.user_id],
    ['Lifecycle', i.lifecycle_stage],
    ['Artifact URI', i.artifact_uri],
  ])}`;
  const byKey = <T extends { key: string }>(xs: T[]): T[] => [...xs].sort((a, b) => a.key.localeCompare(b.key));
  const params = r.data.params.length === 0 ? '  No params.' : table(['KEY', 'VALUE'], byKey(r.data.params).map((p) => [p.key, truncate(p.value, 200)]), '  ');
  const metrics =
    r.data.metrics.length === 0
      ? '  No metrics.'
      : table(['KEY', 'VALUE', 'STEP', 'TIMESTAMP'], byKey(r.data.metrics).map((m) => [m.key, showNumber(m.value), String(m.step), formatTime(m.timestamp)]), '  ');
  const tags = r.data.tags.length === 0 ? '  No tags.' : table(['KEY', 'VALUE'], byKey(r.data.tags).map((t) => [t.key, truncate(t.value, 200)]), '  ');
  const datasets =
    r.inputs.dataset_inputs.length === 0
      ? '  No datasets.'
      : table(
          ['NAME', 'DIGEST', 'CONTEXT', 'SOURCE TYPE', 'SOURCE'],
          r.inputs.dataset_inputs.map((d) => [
            d.dataset.name,
            d.dataset.digest,
            d.tags.find((t) => t.key === 'mlflow.data.context')?.value ?? '-',
            d.dataset.source_type,
            truncate(d.dataset.source, 80),
          ]),
          '  ',
        );
  return [info, `Params\n${params}`, `Metrics (latest)\n${metrics}`, `Tags\n${tags}`, `Datasets\n${datasets}`].join('\n\n');
}
