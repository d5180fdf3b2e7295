import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { LapisError, type OnlineDeployment, type OnlineEndpoint } from '../client/index.js';
import { bad, localEntry, localPathOf, readSpec, specOptions, upload } from './asset-common.js';
import { inlineConda } from './asset.js';
import { contextOf, positiveInt, withGlobalOptions, type CommandContext } from './context.js';
import { fields, formatTime, note, print, table } from './output.js';

/** `lapis online-endpoint …` and `lapis online-deployment …`, as `az ml`. */
export function endpointCommands(program: Command): void {
  endpointCommand(program);
  deploymentCommand(program);
}

/** `--name n` as `az ml` spells it, or the name as an argument. */
const nameOf = (arg: string | undefined, opts: { name?: string }, what: string): string => {
  const name = arg ?? opts.name;
  if (!name) throw bad(`Name the ${what}: --name <name>.`);
  return name;
};

function endpointCommand(program: Command): void {
  const ep = program.command('online-endpoint').description('Online endpoints: a scoring URL with keys and a traffic split over deployments');

  withGlobalOptions(specOptions(ep.command('create').description('Create an online endpoint from its YAML (name, auth_mode)'), 'online endpoint')).action(
    async (opts: { file: string; set?: string[] }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { spec } = await readSpec('online-endpoint', opts.file, opts.set);
      const created = await ctx.client.onlineEndpoints.create(spec as unknown as Record<string, unknown>);
      print(ctx.output, created, () => `Created online endpoint ${created.name} (auth ${created.auth_mode}).\n  scoring URI: ${created.scoring_uri}\n  keys:        lapis online-endpoint get-credentials --name ${created.name}\n  deploy:      lapis online-deployment create -f deployment.yml --all-traffic`);
    },
  );

  withGlobalOptions(ep.command('list').description('List online endpoints')).action(async (_opts: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const list = await ctx.client.onlineEndpoints.list();
    print(ctx.output, list, () =>
      list.length === 0
        ? 'No online endpoints. Create one with: lapis online-endpoint create -f endpoint.yml'
        : table(['NAME', 'AUTH', 'TRAFFIC', 'DEPLOYMENTS', 'SCORING URI'], list.map((e) => [e.name, e.auth_mode, trafficText(e.traffic), e.deployments.map((d) => `${d.name} (${d.state})`).join(', ') || '-', e.scoring_uri])),
    );
  });

  withGlobalOptions(ep.command('show').description('Show an endpoint, its traffic and deployments').argument('[name]').option('-n, --name <name>', 'endpoint name')).action(
    async (arg: string | undefined, opts: { name?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const e = await ctx.client.onlineEndpoints.get(nameOf(arg, opts, 'endpoint'));
      print(ctx.output, e, () => endpointView(e));
    },
  );

  withGlobalOptions(
    ep
      .command('update')
      .description('Change the traffic split (--traffic "blue=90 green=10") or the mirrored share (--mirror-traffic "green=10")')
      .argument('[name]')
      .option('-n, --name <name>', 'endpoint name')
      .option('--traffic <split>', 'deployment=percent pairs adding up to 100 (or 0), e.g. "blue=90 green=10"')
      .option('--mirror-traffic <split>', 'one deployment=percent (at most 50) that gets a copy of requests; its answers are discarded'),
  ).action(async (arg: string | undefined, opts: { name?: string; traffic?: string; mirrorTraffic?: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    if (opts.traffic === undefined && opts.mirrorTraffic === undefined) throw bad('Give --traffic "blue=90 green=10" and/or --mirror-traffic "green=10".');
    const e = await ctx.client.onlineEndpoints.update(nameOf(arg, opts, 'endpoint'), {
      ...(opts.traffic !== undefined ? { traffic: parseTraffic(opts.traffic) } : {}),
      ...(opts.mirrorTraffic !== undefined ? { mirror_traffic: parseTraffic(opts.mirrorTraffic) } : {}),
    });
    print(ctx.output, e, () => `Traffic of ${e.name}: ${trafficText(e.traffic)}${Object.keys(e.mirror_traffic).length ? `; mirrored: ${trafficText(e.mirror_traffic)}` : ''}`);
  });

  withGlobalOptions(ep.command('delete').description('Delete an endpoint and all its deployments').argument('[name]').option('-n, --name <name>', 'endpoint name')).action(
    async (arg: string | undefined, opts: { name?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const name = nameOf(arg, opts, 'endpoint');
      await ctx.client.onlineEndpoints.delete(name);
      print(ctx.output, { deleted: name }, () => `Deleted online endpoint ${name} and its deployments.`);
    },
  );

  withGlobalOptions(ep.command('get-credentials').description("Show the endpoint's two keys").argument('[name]').option('-n, --name <name>', 'endpoint name')).action(
    async (arg: string | undefined, opts: { name?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const keys = await ctx.client.onlineEndpoints.keys(nameOf(arg, opts, 'endpoint'));
      print(ctx.output, keys, () => fields([['Primary key', keys.primaryKey], ['Secondary key', keys.secondaryKey]]));
    },
  );

  withGlobalOptions(
    ep
      .command('regenerate-keys')
      .description('Replace one key (rotate: move clients to the other key first)')
      .argument('[name]')
      .option('-n, --name <name>', 'endpoint name')
      .addOption(new Option('--key-type <type>', 'which key').choices(['primary', 'secondary']).default('primary')),
  ).action(async (arg: string | undefined, opts: { name?: string; keyType: 'primary' | 'secondary' }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const keys = await ctx.client.onlineEndpoints.regenerateKey(nameOf(arg, opts, 'endpoint'), opts.keyType);
    print(ctx.output, keys, () => `Regenerated the ${opts.keyType} key.\n${fields([['Primary key', keys.primaryKey], ['Secondary key', keys.secondaryKey]])}`);
  });

  withGlobalOptions(
    ep
      .command('invoke')
      .description('Send a scoring request (the JSON of --request-file) and print the answer')
      .argument('[name]')
      .option('-n, --name <name>', 'endpoint name')
      .requiredOption('-r, --request-file <file>', 'the request body, e.g. {"input_data": {...}}')
      .option('-d, --deployment-name <name>', 'pin a deployment (header azureml-model-deployment)'),
  ).action(async (arg: string | undefined, opts: { name?: string; requestFile: string; deploymentName?: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const name = nameOf(arg, opts, 'endpoint');
    const body = await readFile(resolve(opts.requestFile), 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw bad(err.code === 'ENOENT' ? `The request file ${opts.requestFile} does not exist.` : `Cannot read ${opts.requestFile}: ${err.message}`);
    });
    const endpoint = await ctx.client.onlineEndpoints.get(name);
    const credential = endpoint.auth_mode === 'key' ? (await ctx.client.onlineEndpoints.keys(name)).primaryKey : (process.env.LAPIS_TOKEN ?? '');
    const res = await ctx.client.onlineEndpoints.invoke(name, body, { credential, ...(opts.deploymentName ? { deployment: opts.deploymentName } : {}) });
    const text = await res.text();
    note(`(answered by deployment ${res.headers.get('azureml-model-deployment') ?? '?'})`);
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  });
}

function deploymentCommand(program: Command): void {
  const dep = program.command('online-deployment').description("Online deployments: a model served by instances behind an endpoint (score.py, or no code for MLflow models)");

  for (const verb of ['create', 'update'] as const) {
    const command = specOptions(
      dep.command(verb).description(verb === 'create' ? 'Create a deployment from its YAML and wait until it serves (or failed, with why)' : 'Update a deployment from its YAML: new instances come up before the old ones drain'),
      'online deployment',
    );
    if (verb === 'create') command.option('--all-traffic', "send all of the endpoint's traffic to it once it is up");
    withGlobalOptions(command.option('--no-wait', 'return at once; follow with online-deployment show')).action(
      async (opts: { file: string; set?: string[]; allTraffic?: boolean; wait: boolean }, cmd: Command) => {
        const ctx = contextOf(cmd);
        const { spec: loaded, dir } = await readSpec('online-deployment', opts.file, opts.set);
        const spec = { ...loaded } as Record<string, unknown>;
        if (spec.environment && typeof spec.environment === 'object') spec.environment = await inlineConda(spec.environment as Record<string, unknown>, dir, opts.file, ['environment']);
        let code: string | undefined;
        const config = loaded.code_configuration;
        if (config) {
          const abs = localPathOf(config.code, dir);
          if (abs === undefined || (await localEntry('code_configuration.code', config.code, abs)) !== 'folder') throw bad(`${opts.file}: code_configuration.code '${config.code}' must be a local folder.`);
          code = (await upload(ctx, abs, `code ${config.code}`, undefined)).hash;
        }
        const api = ctx.client.onlineEndpoints;
        const started =
          verb === 'create'
            ? await api.createDeployment(loaded.endpoint_name, spec, { ...(code ? { code } : {}), allTraffic: opts.allTraffic === true })
            : await api.updateDeployment(loaded.endpoint_name, loaded.name, spec, code ? { code } : {});
        if (!opts.wait) return print(ctx.output, started, () => `${verb === 'create' ? 'Creating' : 'Updating'} deployment ${started.name} of ${started.endpoint_name}; follow it with: lapis online-deployment show --name ${started.name} --endpoint-name ${started.endpoint_name}`);
        const final = await waitForDeployment(ctx, started);
        const ok = final.state === 'Succeeded' && !(verb === 'update' && final.error);
        print(ctx.output, final, () =>
          ok
            ? `Deployment ${final.name} of ${final.endpoint_name} is up (${final.instance_count} instance${final.instance_count === 1 ? '' : 's'}).${opts.allTraffic ? ' It takes all the traffic.' : ''}`
            : `Deployment ${final.name} ${verb === 'create' ? 'failed' : 'was not updated'}:\n${final.error ?? ''}`,
        );
        if (!ok) process.exitCode = 1;
      },
    );
  }

  withGlobalOptions(dep.command('list').description("List an endpoint's deployments").requiredOption('-e, --endpoint-name <name>', 'endpoint')).action(async (opts: { endpointName: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const list = await ctx.client.onlineEndpoints.deployments(opts.endpointName);
    print(ctx.output, list, () => (list.length === 0 ? `Endpoint ${opts.endpointName} has no deployments.` : table(['NAME', 'STATE', 'MODEL', 'INSTANCES', 'TRAFFIC', 'CREATED'], list.map((d) => [d.name, d.state, d.model, readyText(d), `${d.traffic}%`, formatTime(d.created_at)]))));
  });

  withGlobalOptions(dep.command('show').description('Show a deployment: state, error, instances').argument('[name]').option('-n, --name <name>', 'deployment name').requiredOption('-e, --endpoint-name <name>', 'endpoint')).action(
    async (arg: string | undefined, opts: { name?: string; endpointName: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const d = await ctx.client.onlineEndpoints.deployment(opts.endpointName, nameOf(arg, opts, 'deployment'));
      print(ctx.output, d, () => deploymentView(d));
    },
  );

  withGlobalOptions(
    dep
      .command('get-logs')
      .description("A deployment's log: its environment build and scoring processes")
      .argument('[name]')
      .option('-n, --name <name>', 'deployment name')
      .requiredOption('-e, --endpoint-name <name>', 'endpoint')
      .addOption(new Option('-l, --lines <n>', 'last lines').argParser(positiveInt).default(200))
      .option('-f, --follow', 'keep printing what the scoring processes write (Ctrl-C stops)'),
  ).action(async (arg: string | undefined, opts: { name?: string; endpointName: string; lines: number; follow?: boolean }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const name = nameOf(arg, opts, 'deployment');
    const write = (text: string): void => void process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
    let { log, offset } = await ctx.client.onlineEndpoints.deploymentLog(opts.endpointName, name, { lines: opts.lines });
    write(log);
    while (opts.follow) {
      await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
      ({ log, offset } = await ctx.client.onlineEndpoints.deploymentLog(opts.endpointName, name, { after: offset }));
      if (log) process.stdout.write(log);
    }
  });

  withGlobalOptions(dep.command('delete').description('Delete a deployment (refused while it takes traffic)').argument('[name]').option('-n, --name <name>', 'deployment name').requiredOption('-e, --endpoint-name <name>', 'endpoint')).action(
    async (arg: string | undefined, opts: { name?: string; endpointName: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const name = nameOf(arg, opts, 'deployment');
      await ctx.client.onlineEndpoints.deleteDeployment(opts.endpointName, name);
      print(ctx.output, { deleted: name }, () => `Deleted deployment ${name} of ${opts.endpointName}.`);
    },
  );
}

/** Polls until the deployment leaves Creating, showing where it is. */
async function waitForDeployment(ctx: CommandContext, d: OnlineDeployment): Promise<OnlineDeployment> {
  note(`${d.state} deployment ${d.name} of ${d.endpoint_name}: materializing the model and environment, starting ${d.instance_count} instance(s)…`);
  const started = Date.now();
  for (;;) {
    const current = await ctx.client.onlineEndpoints.deployment(d.endpoint_name, d.name);
    if (current.state !== 'Creating' && current.state !== 'Updating') return current;
    if (Date.now() - started > 30 * 60_000) throw new LapisError('UNAVAILABLE', `Deployment ${d.name} is still ${current.state} after 30 min; see lapis online-deployment get-logs --name ${d.name} --endpoint-name ${d.endpoint_name}.`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** How often `get-logs --follow` asks for what was written since. */
const FOLLOW_POLL_MS = 500;

export function parseTraffic(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([A-Za-z][A-Za-z0-9-]*)=(\d{1,3})$/.exec(part);
    if (!m) throw bad(`Invalid traffic '${part}': write deployment=percent pairs, e.g. --traffic "blue=90 green=10".`);
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

const trafficText = (t: Record<string, number>): string => Object.entries(t).map(([k, v]) => `${k}=${v}`).join(' ') || '-';
const readyText = (d: OnlineDeployment): string => `${d.instances.filter((i) => i.state === 'ready').length}/${d.instance_count} ready`;

function endpointView(e: OnlineEndpoint): string {
  const head = fields([
    ['Name', e.name],
    ['Auth', e.auth_mode],
    ['Scoring URI', e.scoring_uri],
    ['Traffic', trafficText(e.traffic)],
    ...(Object.keys(e.mirror_traffic).length ? ([['Mirrored', trafficText(e.mirror_traffic)]] as [string, string][]) : []),
    ['Created', `${formatTime(e.created_at)} by ${e.created_by}`],
  ]);
  if (e.deployments.length === 0) return `${head}\n\nNo deployments yet.`;
  return `${head}\n\nDeployments:\n${table(['NAME', 'STATE', 'MODEL', 'INSTANCES', 'TRAFFIC'], e.deployments.map((d) => [d.name, d.state, d.model, readyText(d), `${d.traffic}%`]), '  ')}`;
}

function deploymentView(d: OnlineDeployment): string {
  const rows: [string, string][] = [
    ['Name', d.name],
    ['Endpoint', d.endpoint_name],
    ['State', d.state],
    ['Model', d.model],
    ['Runtime', d.runtime === 'onnx' ? 'ONNX Runtime, in process (worker threads)' : 'Python scoring processes'],
    ['Environment', d.environment],
    ['Instances', readyText(d)],
    ['Traffic', `${d.traffic}%${d.mirror_traffic ? ` (+${d.mirror_traffic}% mirrored)` : ''}`],
    ['Requests', `${d.metrics.requests} (errors ${d.metrics.errors}, throttled ${d.metrics.throttled})`],
    ['Latency', d.metrics.p50_ms === null ? '-' : `p50 ${d.metrics.p50_ms} ms, p95 ${d.metrics.p95_ms} ms, p99 ${d.metrics.p99_ms} ms (last 2,048 requests)`],
    ...(d.metrics.model_runs === null ? [] : [['Model runs', `${d.metrics.model_runs} (${d.metrics.requests_per_run ?? '-'} requests per run: those that arrive during a run share the next)`] as [string, string]]),
    ['Request timeout', `${d.request_settings.request_timeout_ms} ms`],
    ['Max concurrent', `${d.request_settings.max_concurrent_requests_per_instance} per instance`],
  ];
  const { liveness: l, readiness: r } = d.probes;
  rows.push(['Probes', `liveness every ${l.period} s from ${l.initial_delay} s (timeout ${l.timeout} s; restart after ${l.failure_threshold} failures); readiness every ${r.period} s (timeout ${r.timeout} s; unrouted after ${r.failure_threshold} failures, back after ${r.success_threshold} passes)`]);
  const dc = d.data_collector;
  if (dc) {
    rows.push(['Data collection', `${Math.round(dc.sampling_rate * 100)}% of requests, a folder per ${dc.rolling_rate}${dc.dropped ? `; ${dc.dropped} record(s) lost` : ''}${dc.last_error ? `; last error: ${dc.last_error}` : ''}`]);
  }
  const onnx = d.runtime === 'onnx';
  const instances = d.instances.map((i) => [String(i.index), i.state, `${i.workers.ready}/${i.workers.total} ready`, ...(onnx ? [] : [i.pids.join(' ') || '-']), String(i.restarts), String(i.inflight)]);
  const collections = dc ? Object.entries(dc.collections).map(([c, uri]) => [c, String(dc.records[c] ?? 0), uri]) : [];
  return [
    fields(rows),
    instances.length ? `\nInstances:\n${table(['#', 'STATE', onnx ? 'WORKER THREADS' : 'WORKERS', ...(onnx ? [] : ['PIDS']), 'RESTARTS', 'IN FLIGHT'], instances, '  ')}` : '',
    collections.length ? `\nCollected (lapis datastore download <path>):\n${table(['COLLECTION', 'RECORDS', 'PATH'], collections, '  ')}` : '',
    d.error ? `\nError:\n${d.error}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}
