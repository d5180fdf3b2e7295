import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { LapisError, plural, predictionsText, progressText, TERMINAL_JOB_STATUSES, type Job, type JobEvent, type JobLogEntry } from '../client/index.js';
import { downloadJobOutputs } from '../client/download.js';
import type { JobSpec } from '../specs/index.js';
import { bad, localEntry, localPathOf, readSpec, specOptions, upload, withDownload } from './asset-common.js';
import { inlineConda } from './asset.js';
import { contextOf, positiveInt, withGlobalOptions, type CommandContext } from './context.js';
import { fields, formatBytes, formatDuration, formatTime, note, print, table, truncate } from './output.js';

/** `lapis job create | list | show | logs | cancel | download | archive | restore`, as `az ml job`. */
export function jobCommand(program: Command): void {
  const job = program.command('job').description('Command jobs: run training code from Azure ML job YAML, watch it live, get its outputs');

  withGlobalOptions(
    specOptions(job.command('create').description('Submit a job from its YAML: code and local inputs are uploaded (unchanged content is reused)'), 'job')
      .option('--name <name>', 'job name (also its MLflow run id); default: a generated one')
      .option('--stream', 'follow the log until the job ends; exit 0 if it completed, 1 otherwise')
      .option('--experiment-name <name>', "experiment to file the run under (default: the YAML's experiment_name, else its folder's name)"),
  ).action(async (opts: { file: string; set?: string[]; name?: string; stream?: boolean; experimentName?: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { spec: loaded, dir } = await readSpec('job', opts.file, opts.set);
    const spec: JobSpec & Record<string, unknown> = { ...loaded, ...(opts.name ? { name: opts.name } : {}) };
    if (typeof spec.environment === 'object') {
      spec.environment = (await inlineConda(spec.environment as Record<string, unknown>, dir, opts.file, ['environment'])) as JobSpec['environment'];
    }
    const uploads: { code?: string; inputs?: Record<string, string> } = {};
    if (spec.code !== undefined) {
      const abs = localPathOf(spec.code, dir);
      if (abs === undefined) throw bad(`${opts.file}: code '${spec.code}' must be a local folder.`);
      if ((await localEntry('code', spec.code, abs)) !== 'folder') throw bad(`${opts.file}: code '${spec.code}' (${abs}) is a file; code must be a folder (the command runs inside it).`);
      uploads.code = (await upload(ctx, abs, `code ${spec.code}`, undefined)).hash;
    }
    for (const [name, input] of Object.entries(spec.inputs ?? {})) {
      if (typeof input !== 'object') continue;
      const abs = localPathOf(input.path, dir);
      if (abs === undefined) continue;
      const entry = await localEntry(`inputs.${name}.path`, input.path, abs);
      if (input.type === 'uri_file' && entry !== 'file') throw bad(`${opts.file}: inputs.${name} is a uri_file but '${input.path}' is a folder; use type: uri_folder.`);
      if (input.type !== 'uri_file' && entry === 'file') throw bad(`${opts.file}: inputs.${name} is a ${input.type} but '${input.path}' is a file; use type: uri_file.`);
      uploads.inputs = { ...uploads.inputs, [name]: (await upload(ctx, abs, `input ${name}`, undefined)).hash };
    }
    const experimentName = opts.experimentName ?? spec.experiment_name ?? basename(dir);
    const created = await ctx.client.jobs.create(spec, { uploads, experimentName });
    if (!opts.stream) {
      print(ctx.output, created, () => `Submitted job ${created.name} (${created.status} on compute '${created.compute}').\n  follow it: lapis job logs ${created.name} --follow\n  show it:   lapis job show ${created.name}`);
      return;
    }
    note(`Submitted job ${created.name}; streaming its log (Ctrl-C stops streaming, the job goes on).`);
    const end = await streamJobLog(ctx, created.name, 0);
    const final = await ctx.client.jobs.get(created.name);
    print(ctx.output, final, () => outcome(final));
    if (end !== 'Completed') process.exitCode = 1;
  });

  withGlobalOptions(
    job
      .command('list')
      .description('List jobs, newest first')
      .option('--status <status>', 'only jobs in this status (Queued, Running, Completed, Failed, …)')
      .option('--include-archived', 'also archived jobs')
      .addOption(new Option('--max-results <n>', 'at most this many (default 100)').argParser(positiveInt)),
  ).action(async (opts: { status?: string; includeArchived?: boolean; maxResults?: number }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const jobs = await ctx.client.jobs.list({ ...(opts.status ? { status: opts.status } : {}), includeArchived: opts.includeArchived === true, ...(opts.maxResults ? { maxResults: opts.maxResults } : {}) });
    print(ctx.output, jobs, () =>
      jobs.length === 0
        ? 'No jobs. Submit one with: lapis job create -f job.yml --stream'
        : table(
            ['NAME', 'DISPLAY NAME', 'STATUS', 'COMPUTE', 'CREATED', 'DURATION'],
            jobs.map((j) => [j.name, truncate(j.display_name, 30), j.status, j.compute, formatTime(j.created_at), formatDuration(j.duration_ms)]),
          ),
    );
  });

  withGlobalOptions(job.command('show').description('Show a job: status and its times, inputs, outputs, environment, error').argument('<name>', 'job name')).action(
    async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const j = await ctx.client.jobs.get(name);
      if (ctx.output !== 'table') return print(ctx.output, j, () => '');
      const tail = TERMINAL_JOB_STATUSES.includes(j.status) && j.status !== 'Completed' ? await lastUserLines(ctx, name) : [];
      print(ctx.output, j, () => jobView(j, tail));
    },
  );

  withGlobalOptions(
    job
      .command('logs')
      .description("Print a job's log; --follow streams it live until the job ends")
      .argument('<name>', 'job name')
      .option('-f, --follow', 'keep streaming until the job ends'),
  ).action(async (name: string, opts: { follow?: boolean }, cmd: Command) => {
    const ctx = contextOf(cmd);
    if (opts.follow) {
      await streamJobLog(ctx, name, 0);
      return;
    }
    for (let after = 0; ; ) {
      const page = await ctx.client.jobs.logs(name, after);
      for (const e of page.entries) writeEntry(e);
      if (page.entries.length === 0) break;
      after = page.next;
    }
  });

  withGlobalOptions(job.command('cancel').description('Cancel a job: a queued one never starts; a running one is stopped within 2 s').argument('<name>', 'job name')).action(
    async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const j = await ctx.client.jobs.cancel(name);
      print(ctx.output, j, () => (j.status === 'Canceled' ? `Canceled job ${name}.` : `Cancel requested for job ${name} (${j.status}); it stops within 2 s.`));
    },
  );

  withGlobalOptions(
    job
      .command('download')
      .description("Download a job's outputs into <download-path>/<job>/<output>/")
      .argument('<name>', 'job name')
      .option('--output-name <name>', 'only this output')
      .option('--download-path <dir>', 'local folder', '.'),
  ).action(async (name: string, opts: { outputName?: string; downloadPath: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const result = await withDownload((p) => downloadJobOutputs(ctx.client, name, { dest: opts.downloadPath, ...(opts.outputName ? { output: opts.outputName } : {}), ...p }));
    print(ctx.output, result, () => `Downloaded ${plural(result.files.length, 'file')} (${formatBytes(result.bytes)}) of job ${name} to ${result.local_path}`);
  });

  for (const verb of ['archive', 'restore'] as const) {
    withGlobalOptions(job.command(verb).description(verb === 'archive' ? 'Archive a job: hidden from job list' : 'Restore an archived job').argument('<name>', 'job name')).action(
      async (name: string, _opts: unknown, cmd: Command) => {
        const ctx = contextOf(cmd);
        const j = verb === 'archive' ? await ctx.client.jobs.archive(name) : await ctx.client.jobs.restore(name);
        print(ctx.output, j, () => `${verb === 'archive' ? 'Archived' : 'Restored'} job ${name}.`);
      },
    );
  }
}

function writeEntry(e: JobLogEntry): void {
  (e.stream === 'user' ? process.stdout : process.stderr).write(e.text);
}

/** Streams the log until the job ends; returns its final status (or 'interrupted' on Ctrl-C). */
export async function streamJobLog(ctx: CommandContext, name: string, after: number): Promise<string> {
  const interrupt = new AbortController();
  const onSigint = (): void => interrupt.abort();
  process.once('SIGINT', onSigint);
  let last = after;
  try {
    // A dropped connection (server restart) resumes from the last line seen.
    for (let attempt = 0; attempt < 60; attempt++) {
      try {
        for await (const event of ctx.client.jobs.follow(name, { after: last, signal: interrupt.signal }) as AsyncGenerator<JobEvent>) {
          if (event.type === 'log') {
            writeEntry(event.entry);
            last = event.entry.id;
          } else return event.status;
        }
      } catch (err) {
        if (interrupt.signal.aborted) throw err;
        if (err instanceof LapisError && err.status < 500 && err.code !== 'UNAVAILABLE') throw err;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new LapisError('UNAVAILABLE', `Lost the log stream of job ${name}; see it with: lapis job logs ${name}`);
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
    note(`\nStopped streaming; job ${name} goes on. Follow it again with: lapis job logs ${name} --follow`);
    return 'interrupted';
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function lastUserLines(ctx: CommandContext, name: string): Promise<string[]> {
  const lines: string[] = [];
  for (let after = 0; ; ) {
    const page = await ctx.client.jobs.logs(name, after);
    if (page.entries.length === 0) break;
    for (const e of page.entries) if (e.stream !== 'system') lines.push(...e.text.split('\n'));
    after = page.next;
  }
  return lines.filter((l) => l.trim() !== '').slice(-10);
}

export function outcome(j: Job): string {
  if (j.status === 'Completed') {
    const registered = Object.entries(j.outputs).flatMap(([k, o]) => (o.registered ? [`  ${k} → ${o.registered}`] : []));
    return `Job ${j.name} completed in ${formatDuration(j.duration_ms)}.${registered.length ? `\nRegistered:\n${registered.join('\n')}` : ''}`;
  }
  return `Job ${j.name} ${j.status.toLowerCase()}${j.exit_code !== null ? ` (exit code ${j.exit_code})` : ''}${j.error ? `: ${j.error}` : '.'}`;
}

function jobView(j: Job, tail: string[]): string {
  const rows: [string, string][] = [
    ['Name', j.name],
    ['Display name', j.display_name],
    ['Status', j.status + (j.cancel_requested && !TERMINAL_JOB_STATUSES.includes(j.status) ? ' (cancel requested)' : '')],
    ['Compute', `${j.compute} (${plural(j.slots, 'slot')})`],
    ['Environment', j.environment],
    ['Code', j.code ? j.code.slice(0, 12) : '-'],
    ['Command', j.command],
    ['Created', `${formatTime(j.created_at)} by ${j.created_by}`],
    ['Duration', formatDuration(j.duration_ms)],
    ['MLflow run', `${j.run_id} (experiment ${j.experiment_id}): lapis run show ${j.run_id}`],
  ];
  if (j.progress) rows.push(['Progress', progressText(j.progress)]);
  const predictions = predictionsText(j);
  if (predictions) rows.push(['Predictions', `${predictions}: lapis job download ${j.name} --output-name score`]);
  if (j.exit_code !== null) rows.push(['Exit code', String(j.exit_code)]);
  if (j.error) rows.push(['Error', j.error]);
  // Transitions often come milliseconds apart: show each one's offset from submission too.
  const times = Object.entries(j.status_times)
    .sort((a, b) => (a[1] as number) - (b[1] as number))
    .map(([s, t]) => [s, formatTime(t as number), `+${formatDuration((t as number) - j.created_at)}`]);
  const inputs = Object.entries(j.inputs).map(([k, v]) => [k, typeof v === 'object' && v ? `${(v as { type: string }).type} ${(v as { path: string }).path} (${(v as { mode: string }).mode})` : String(v)]);
  const outputs = Object.entries(j.outputs).map(([k, o]) => [k, `${o.type}${o.hash ? ` ${o.hash.slice(0, 12)} (${plural(o.files ?? 0, 'file')}, ${formatBytes(o.size ?? 0)})` : ''}${o.registered ? ` → ${o.registered}` : ''}${o.path ? ` → ${o.path}` : ''}`]);
  return [
    fields(rows),
    `\nStatus history:\n${table(['STATUS', 'AT', 'SINCE SUBMIT'], times, '  ')}`,
    inputs.length ? `\nInputs:\n${table(['NAME', 'VALUE'], inputs, '  ')}` : '',
    outputs.length ? `\nOutputs:\n${table(['NAME', 'OUTPUT'], outputs, '  ')}` : '',
    tail.length ? `\nLast log lines:\n${tail.map((l) => `  ${l}`).join('\n')}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}
