import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { predictionsText, progressText, type BatchDeployment, type BatchEndpoint, type BatchInputType } from '../client/index.js';
import { bad, localPathOf, readSpec, specOptions, upload } from './asset-common.js';
import { inlineConda } from './asset.js';
import { contextOf, positiveInt, withGlobalOptions } from './context.js';
import { outcome, streamJobLog } from './job.js';
import { fields, formatDuration, formatTime, note, print, table, truncate } from './output.js';

/** `lapis batch-endpoint …` and `lapis batch-deployment …`, as `az ml`. */
export function batchCommands(program: Command): void {
  endpointCommand(program);
  deploymentCommand(program);
}

const nameOf = (arg: string | undefined, opts: { name?: string }, what: string): string => {
  const name = arg ?? opts.name;
  if (!name) throw bad(`Name the ${what}: --name <name>.`);
  return name;
};

function endpointCommand(program: Command): void {
  const ep = program.command('batch-endpoint').description('Batch endpoints: score data assets with a deployed model, as jobs');

  for (const verb of ['create', 'update'] as const) {
    withGlobalOptions(specOptions(ep.command(verb).description(verb === 'create' ? 'Create a batch endpoint from its YAML (name, description, defaults)' : 'Update a batch endpoint from its YAML (description, tags, defaults.deployment_name)'), 'batch endpoint')).action(
      async (opts: { file: string; set?: string[] }, cmd: Command) => {
        const ctx = contextOf(cmd);
        const { spec } = await readSpec('batch-endpoint', opts.file, opts.set);
        const api = ctx.client.batchEndpoints;
        const e = verb === 'create' ? await api.create(spec as unknown as Record<string, unknown>) : await api.update(spec.name, spec as unknown as Record<string, unknown>);
        print(ctx.output, e, () =>
          verb === 'create'
            ? `Created batch endpoint ${e.name}.\n  invocation URI: ${e.invocation_uri}\n  deploy:         lapis batch-deployment create -f deployment.yml --set-default\n  score:          lapis batch-endpoint invoke --name ${e.name} --input azureml:<data>:<version> --stream`
            : `Updated batch endpoint ${e.name} (default deployment: ${e.defaults.deployment_name ?? 'none'}).`,
        );
      },
    );
  }

  withGlobalOptions(ep.command('list').description('List batch endpoints')).action(async (_opts: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const list = await ctx.client.batchEndpoints.list();
    print(ctx.output, list, () =>
      list.length === 0
        ? 'No batch endpoints. Create one with: lapis batch-endpoint create -f endpoint.yml'
        : table(['NAME', 'DEFAULT DEPLOYMENT', 'DEPLOYMENTS', 'CREATED'], list.map((e) => [e.name, e.defaults.deployment_name ?? '-', e.deployments.join(', ') || '-', formatTime(e.created_at)])),
    );
  });

  withGlobalOptions(ep.command('show').description('Show a batch endpoint and its deployments').argument('[name]').option('-n, --name <name>', 'endpoint name')).action(
    async (arg: string | undefined, opts: { name?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const name = nameOf(arg, opts, 'batch endpoint');
      const e = await ctx.client.batchEndpoints.get(name);
      if (ctx.output !== 'table') return print(ctx.output, e, () => '');
      const deployments = await ctx.client.batchEndpoints.deployments(name);
      print(ctx.output, e, () => endpointView(e, deployments));
    },
  );

  withGlobalOptions(ep.command('delete').description('Delete a batch endpoint and its deployments (their jobs stay)').argument('[name]').option('-n, --name <name>', 'endpoint name')).action(
    async (arg: string | undefined, opts: { name?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const name = nameOf(arg, opts, 'batch endpoint');
      await ctx.client.batchEndpoints.delete(name);
      print(ctx.output, { deleted: name }, () => `Deleted batch endpoint ${name} and its deployments.`);
    },
  );

  withGlobalOptions(
    ep
      .command('invoke')
      .description('Score the input with a deployment: starts a job that writes predictions.csv to its output score')
      .argument('[name]')
      .option('-n, --name <name>', 'endpoint name')
      .requiredOption('-i, --input <input>', 'azureml:<data>:<version>, azureml://datastores/workspaceblobstore/paths/<path>, an http(s) URL, or a local file or folder (uploaded)')
      .addOption(new Option('--input-type <type>', "uri_folder: score its files; uri_file: score the rows of a CSV or Parquet file; mltable: score the rows of the table a folder's MLTable file describes (default: the data asset's type)").choices(['uri_folder', 'uri_file', 'mltable']))
      .option('-d, --deployment-name <name>', "the deployment (default: the endpoint's default)")
      .option('--output-path <path>', 'also write the output to azureml://datastores/workspaceblobstore/paths/<path>')
      .addOption(new Option('--mini-batch-size <n>', "items per mini-batch, overriding the deployment's").argParser(positiveInt))
      .option('--job-name <name>', 'the job name (default: a generated one)')
      .option('--experiment-name <name>', "experiment of the job's run (default: the endpoint's name)")
      .option('--stream', 'follow the job until it ends; exit 0 if it completed, 1 otherwise'),
  ).action(
    async (
      arg: string | undefined,
      opts: { name?: string; input: string; inputType?: BatchInputType; deploymentName?: string; outputPath?: string; miniBatchSize?: number; jobName?: string; experimentName?: string; stream?: boolean },
      cmd: Command,
    ) => {
      const ctx = contextOf(cmd);
      const name = nameOf(arg, opts, 'batch endpoint');
      // A local file or folder is uploaded; anything else (a reference such as iris@latest) goes as is.
      const abs = localPathOf(opts.input, process.cwd());
      const entry = abs === undefined ? undefined : await stat(abs).catch(() => undefined);
      let uploaded: string | undefined;
      let inputType = opts.inputType;
      if (abs !== undefined && entry && (entry.isFile() || entry.isDirectory())) {
        if (inputType === 'uri_folder' && entry.isFile()) throw bad(`--input ${opts.input} is a file; use --input-type uri_file (its rows are scored), or give a folder.`);
        if (inputType === 'uri_file' && entry.isDirectory()) throw bad(`--input ${opts.input} is a folder; use --input-type uri_folder (its files are scored), or give a file.`);
        if (inputType === 'mltable' && !(entry.isDirectory() && (await stat(join(abs, 'MLTable')).catch(() => undefined))?.isFile())) {
          throw bad(`--input-type mltable needs a folder with an MLTable file at its top, and ${join(abs, 'MLTable')} does not exist.`);
        }
        inputType ??= entry.isFile() ? 'uri_file' : 'uri_folder';
        uploaded = (await upload(ctx, abs, `input ${opts.input}`, undefined)).hash;
      }
      const job = await ctx.client.batchEndpoints.invoke(name, {
        input: opts.input,
        ...(uploaded ? { upload: uploaded } : {}),
        ...(inputType ? { inputType } : {}),
        ...(opts.deploymentName ? { deploymentName: opts.deploymentName } : {}),
        ...(opts.outputPath ? { outputPath: opts.outputPath } : {}),
        ...(opts.miniBatchSize !== undefined ? { miniBatchSize: opts.miniBatchSize } : {}),
        ...(opts.jobName ? { jobName: opts.jobName } : {}),
        ...(opts.experimentName ? { experimentName: opts.experimentName } : {}),
      });
      const deployment = job.tags['lapis.batch_deployment'] ?? '?';
      if (!opts.stream) {
        print(ctx.output, job, () => `Started batch job ${job.name} (deployment ${deployment}, ${job.status}).\n  follow it: lapis job logs ${job.name} --follow\n  progress:  lapis job show ${job.name}\n  results:   lapis job download ${job.name} --output-name score`);
        return;
      }
      note(`Started batch job ${job.name} (deployment ${deployment}); streaming its log (Ctrl-C stops streaming, the job goes on).`);
      const end = await streamJobLog(ctx, job.name, 0);
      const final = await ctx.client.jobs.get(job.name);
      const predictions = predictionsText(final);
      print(ctx.output, final, () => `${outcome(final)}${final.progress ? `\n${progressText(final.progress)}` : ''}${predictions ? `\n  predictions: ${predictions}: lapis job download ${final.name} --output-name score` : ''}`);
      if (end !== 'Completed') process.exitCode = 1;
    },
  );

  withGlobalOptions(
    ep
      .command('list-jobs')
      .description("List a batch endpoint's jobs, newest first")
      .argument('[name]')
      .option('-n, --name <name>', 'endpoint name')
      .addOption(new Option('--max-results <n>', 'at most this many (default 100)').argParser(positiveInt)),
  ).action(async (arg: string | undefined, opts: { name?: string; maxResults?: number }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const name = nameOf(arg, opts, 'batch endpoint');
    const jobs = await ctx.client.batchEndpoints.jobs(name, opts.maxResults);
    print(ctx.output, jobs, () =>
      jobs.length === 0
        ? `Batch endpoint ${name} has run no jobs. Start one with: lapis batch-endpoint invoke --name ${name} --input azureml:<data>:<version>`
        : table(
            ['NAME', 'DEPLOYMENT', 'STATUS', 'PROGRESS', 'PREDICTIONS', 'CREATED', 'DURATION'],
            jobs.map((j) => [j.name, j.tags['lapis.batch_deployment'] ?? '-', j.status, j.progress ? truncate(progressText(j.progress), 60) : '-', predictionsText(j) ?? '-', formatTime(j.created_at), formatDuration(j.duration_ms)]),
          ),
    );
  });
}

function deploymentCommand(program: Command): void {
  const dep = program.command('batch-deployment').description('Batch deployments: a model (score.py, or no code for MLflow models) and how its jobs split and score the data');

  for (const verb of ['create', 'update'] as const) {
    withGlobalOptions(
      specOptions(dep.command(verb).description(verb === 'create' ? 'Create a batch deployment from its YAML (the first of an endpoint becomes its default)' : 'Update a batch deployment from its YAML (later jobs use it)'), 'batch deployment').option(
        '--set-default',
        "make it the endpoint's default deployment",
      ),
    ).action(async (opts: { file: string; set?: string[]; setDefault?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { spec: loaded, dir } = await readSpec('batch-deployment', opts.file, opts.set);
      const spec = { ...loaded } as Record<string, unknown>;
      if (spec.environment && typeof spec.environment === 'object') spec.environment = await inlineConda(spec.environment as Record<string, unknown>, dir, opts.file, ['environment']);
      let code: string | undefined;
      const config = loaded.code_configuration;
      if (config) {
        const abs = localPathOf(config.code, dir);
        const entry = abs === undefined ? undefined : await stat(abs).catch(() => undefined);
        if (abs === undefined || !entry?.isDirectory()) throw bad(`${opts.file}: code_configuration.code '${config.code}' must be a local folder${abs ? ` (nothing at ${abs})` : ''}.`);
        code = (await upload(ctx, abs, `code ${config.code}`, undefined)).hash;
      }
      const api = ctx.client.batchEndpoints;
      const options = { ...(code ? { code } : {}), setDefault: opts.setDefault === true };
      const d = verb === 'create' ? await api.createDeployment(loaded.endpoint_name, spec, options) : await api.updateDeployment(loaded.endpoint_name, loaded.name, spec, options);
      print(ctx.output, d, () => `${verb === 'create' ? 'Created' : 'Updated'} batch deployment ${d.name} of ${d.endpoint_name}${d.is_default ? ' (the default)' : ''}: ${d.model}, ${settingsText(d)}.`);
    });
  }

  withGlobalOptions(dep.command('list').description("List a batch endpoint's deployments").requiredOption('-e, --endpoint-name <name>', 'batch endpoint')).action(async (opts: { endpointName: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const list = await ctx.client.batchEndpoints.deployments(opts.endpointName);
    print(ctx.output, list, () => (list.length === 0 ? `Batch endpoint ${opts.endpointName} has no deployments.` : deploymentTable(list)));
  });

  withGlobalOptions(dep.command('show').description('Show a batch deployment and its effective settings').argument('[name]').option('-n, --name <name>', 'deployment name').requiredOption('-e, --endpoint-name <name>', 'batch endpoint')).action(
    async (arg: string | undefined, opts: { name?: string; endpointName: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const d = await ctx.client.batchEndpoints.deployment(opts.endpointName, nameOf(arg, opts, 'deployment'));
      print(ctx.output, d, () => deploymentView(d));
    },
  );

  withGlobalOptions(dep.command('delete').description('Delete a batch deployment (not the default while the endpoint has others)').argument('[name]').option('-n, --name <name>', 'deployment name').requiredOption('-e, --endpoint-name <name>', 'batch endpoint')).action(
    async (arg: string | undefined, opts: { name?: string; endpointName: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const name = nameOf(arg, opts, 'deployment');
      await ctx.client.batchEndpoints.deleteDeployment(opts.endpointName, name);
      print(ctx.output, { deleted: name }, () => `Deleted batch deployment ${name} of ${opts.endpointName}.`);
    },
  );
}

const settingsText = (d: BatchDeployment): string =>
  `mini_batch_size ${d.settings.mini_batch_size}, ${d.settings.instance_count} instance(s) × ${d.settings.max_concurrency_per_instance} worker(s), error_threshold ${d.settings.error_threshold}`;

function deploymentTable(list: BatchDeployment[], indent = ''): string {
  return table(['NAME', 'DEFAULT', 'MODEL', 'SCORING', 'COMPUTE', 'CREATED'], list.map((d) => [d.name, d.is_default ? 'yes' : '', d.model, d.code ? d.code.scoring_script : 'no code (MLflow)', d.compute, formatTime(d.created_at)]), indent);
}

function endpointView(e: BatchEndpoint, deployments: BatchDeployment[]): string {
  const head = fields([
    ['Name', e.name],
    ['Auth', e.auth_mode],
    ['Invocation URI', e.invocation_uri],
    ['Default deployment', e.defaults.deployment_name ?? '-'],
    ...(e.description ? ([['Description', e.description]] as [string, string][]) : []),
    ['Created', `${formatTime(e.created_at)} by ${e.created_by}`],
  ]);
  return deployments.length === 0 ? `${head}\n\nNo deployments yet.` : `${head}\n\nDeployments:\n${deploymentTable(deployments, '  ')}`;
}

function deploymentView(d: BatchDeployment): string {
  const s = d.settings;
  return fields([
    ['Name', d.name],
    ['Endpoint', `${d.endpoint_name}${d.is_default ? ' (default deployment)' : ''}`],
    ['Model', d.model],
    ['Scoring', d.code ? `${d.code.scoring_script} (code ${d.code.hash.slice(0, 12)})` : 'no code: the MLflow model predicts'],
    ['Environment', d.environment],
    ['Compute', `${d.compute}, ${s.instance_count} instance(s) × ${s.max_concurrency_per_instance} worker(s)`],
    ['Mini-batch size', String(s.mini_batch_size)],
    ['Error threshold', s.error_threshold === -1 ? '-1 (failures ignored)' : String(s.error_threshold)],
    ['Retries', `${s.retry_settings.max_retries}, ${s.retry_settings.timeout} s per mini-batch`],
    ['Output', s.output_action === 'append_row' ? `append_row → ${s.output_file_name}` : 'summary_only'],
    ['Logging level', s.logging_level],
    ['Created', `${formatTime(d.created_at)} by ${d.created_by}`],
  ]);
}
