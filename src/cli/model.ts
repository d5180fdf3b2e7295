import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { LapisError, plural, type LineageGraph, type LineageNode, type ModelVersion } from '../client/index.js';
import { downloadAssetFiles } from '../client/download.js';
import {
  bad,
  localEntry,
  localPathOf,
  readSpec,
  registryOf,
  registryOptions,
  scopeOf,
  specOptions,
  targetOf,
  targetOptions,
  upload,
  versionOf,
  withDownload,
  type ScopeFlags,
  type TargetFlags,
} from './asset-common.js';
import { Option, type Command } from 'commander';
import { contextOf, withGlobalOptions, type CommandContext } from './context.js';
import { streamJobLog } from './job.js';
import { fields, formatBytes, formatTime, note, print, table, truncate } from './output.js';

/** `lapis model create | list | show | download | archive | restore | share | package`. */
export function modelCommand(program: Command): void {
  const model = program.command('model').description('Models: versioned model files (from a folder, a run or a logged model), with their lineage');

  withGlobalOptions(
    registryOptions(
      specOptions(model.command('create').description('Create a model version from its YAML: a local path is uploaded; runs:/<run_id>/<path> and models:/<model_id> are registered as they are'), 'model'),
      'create it in this registry (from local files) instead of the workspace',
    ),
  ).action(async (opts: { file: string; set?: string[] } & ScopeFlags, cmd: Command) => {
    const ctx = contextOf(cmd);
    const registry = registryOf(opts);
    const { spec, dir } = await readSpec('model', opts.file, opts.set);
    if (spec.version !== undefined) await refuseExisting(ctx, spec.name, spec.version, registry);
    const abs = localPathOf(spec.path, dir);
    let content: string | undefined;
    if (abs !== undefined) {
      const entry = await localEntry('path', spec.path, abs);
      if (spec.type === 'mlflow_model') {
        if (entry !== 'folder') throw bad(`type: mlflow_model needs a folder with an MLmodel file, but path '${spec.path}' (${abs}) is a file; use type: custom_model for other files.`);
        const mlmodel = join(abs, 'MLmodel');
        if (!(await access(mlmodel).then(() => true, () => false))) throw bad(`type: mlflow_model needs an MLmodel file at the top of its folder, and ${mlmodel} does not exist; use type: custom_model for other files.`);
      }
      content = (await upload(ctx, abs, spec.path, registry)).hash;
    }
    const created = await ctx.client.models.create(spec as unknown as Record<string, unknown>, { ...scopeOf(registry), ...(content ? { content } : {}) });
    print(ctx.output, created, () => `Created model ${created.name}:${created.version} (${referenceOf(created, registry)}).\n${modelView(created, registry)}`);
  });

  withGlobalOptions(
    registryOptions(
      model
        .command('list')
        .description('List registered models, or every version of --name')
        .option('-n, --name <name>', 'every version of this model, newest first')
        .option('--include-archived', 'with --name: also archived versions'),
      'list this registry instead of the workspace',
    ),
  ).action(async (opts: { name?: string; includeArchived?: boolean } & ScopeFlags, cmd: Command) => {
    const ctx = contextOf(cmd);
    const registry = registryOf(opts);
    if (opts.name) {
      const versions = await ctx.client.models.versions(opts.name, { ...scopeOf(registry), includeArchived: opts.includeArchived === true });
      print(ctx.output, versions, () =>
        versions.length === 0
          ? `No versions of model '${opts.name}'.`
          : table(
              ['NAME', 'VERSION', 'TYPE', 'SOURCE', 'CREATED', ...(versions.some((v) => v.archived) ? ['ARCHIVED'] : [])],
              versions.map((v) => [v.name, v.version, v.model_type ?? '-', truncate(v.source, 60), formatTime(v.creation_timestamp), ...(versions.some((x) => x.archived) ? [v.archived ? 'yes' : ''] : [])]),
            ),
      );
      return;
    }
    const models = await ctx.client.models.list(scopeOf(registry));
    print(ctx.output, models, () =>
      models.length === 0
        ? 'No models.'
        : table(
            ['NAME', 'LATEST VERSION', 'UPDATED', 'DESCRIPTION'],
            models.map((m) => [m.name, latestOf(m.latest_versions), formatTime(m.last_updated_timestamp), truncate(m.description ?? '', 50)]),
          ),
    );
  });

  withGlobalOptions(
    registryOptions(
      targetOptions(
        model
          .command('show')
          .description('Show a model version: <name>:<version>, <name>@latest, azureml:…, or azureml://registries/<r>/models/<n>/versions/<v>')
          .argument('[reference]', 'e.g. churn:3')
          .option('--lineage', 'also where it came from: run, experiment, datasets, environment, code, shares'),
      ),
      'look in this registry',
    ),
  ).action(async (ref: string | undefined, opts: TargetFlags & { lineage?: boolean }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const t = targetOf('models', ref, opts);
    const mv = await ctx.client.models.get(t.name, t.version ?? 'latest', scopeOf(t.registry));
    if (!opts.lineage) {
      print(ctx.output, mv, () => modelView(mv, t.registry));
      return;
    }
    const lineage = await ctx.client.models.lineage(mv.name, mv.version, scopeOf(t.registry));
    const out = { ...mv, lineage };
    // The server names a registry version's root by its workspace form; show the reference that resolves.
    const shown = { ...lineage, nodes: lineage.nodes.map((n) => (n.id === lineage.root ? { ...n, ref: referenceOf(mv, t.registry) } : n)) };
    print(ctx.output, out, () => `${modelView(mv, t.registry)}\n\nLineage\n${lineageTree(shown, '  ')}`);
  });

  withGlobalOptions(
    registryOptions(
      targetOptions(
        model
          .command('download')
          .description("Download a model version's files into <dest>/<name>/")
          .argument('[reference]', 'e.g. churn:3, churn@latest or azureml://registries/shared/models/churn/versions/3')
          .option('--dest <dir>', 'local folder', '.'),
      ),
      'download from this registry',
    ),
  ).action(async (ref: string | undefined, opts: TargetFlags & { dest: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const t = targetOf('models', ref, opts);
    const version = t.version ?? (await ctx.client.models.get(t.name, 'latest', scopeOf(t.registry))).version;
    const result = await withDownload((p) => downloadAssetFiles(ctx.client, 'model', t.name, version, { ...scopeOf(t.registry), dest: opts.dest, ...p }));
    if (result.files.length === 0) throw new LapisError('NOT_FOUND', `Model ${t.name}:${version} has no files.`);
    print(ctx.output, result, () => `${result.files.map((f) => f.local_path).join('\n')}\nDownloaded ${plural(result.files.length, 'file')} (${formatBytes(result.bytes)}) of model ${t.name}:${version} to ${result.local_path}`);
  });

  for (const verb of ['archive', 'restore'] as const) {
    withGlobalOptions(
      registryOptions(
        targetOptions(
          model
            .command(verb)
            .description(verb === 'archive' ? 'Archive a model version: hidden from listings and @latest; explicit references still resolve' : 'Restore an archived model version')
            .argument('[reference]', '<name>:<version>'),
        ),
        'in this registry',
      ),
    ).action(async (ref: string | undefined, opts: TargetFlags, cmd: Command) => {
      const ctx = contextOf(cmd);
      const t = targetOf('models', ref, opts);
      const version = versionOf('models', t, verb);
      const mv = verb === 'archive' ? await ctx.client.models.archive(t.name, version, scopeOf(t.registry)) : await ctx.client.models.restore(t.name, version, scopeOf(t.registry));
      print(ctx.output, mv, () => `${verb === 'archive' ? 'Archived' : 'Restored'} model ${mv.name}:${mv.version}.`);
    });
  }

  withGlobalOptions(
    targetOptions(
      model
        .command('share')
        .description('Copy a model version (files and lineage) from the workspace into a registry, where every workspace can use it')
        .argument('[reference]', '<name>:<version>, azureml://registries/<r>/models/<name>/versions/<v> (or --name, --version and --registry)')
        .option('--registry <name>', 'the registry to share to')
        .option('--registry-name <name>', 'same as --registry (az ml spelling)')
        .option('--share-with-name <name>', 'name in the registry (default: the same)')
        .option('--share-with-version <version>', 'version in the registry (default: the next one)'),
    ),
  ).action(async (ref: string | undefined, opts: TargetFlags & { shareWithName?: string; shareWithVersion?: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const registry = registryOf(opts);
    if (!registry) throw bad('Name the registry to share to: --registry <name> (see lapis registry list).');
    const t = targetOf('models', ref, { ...opts, registry: undefined, registryName: undefined });
    if (t.registry) throw bad('Share from the workspace: name the source as <name>:<version>, not a registry URI.');
    const shared = await ctx.client.models.share(t.name, t.version ?? 'latest', {
      registry,
      ...(opts.shareWithName !== undefined ? { shareWithName: opts.shareWithName } : {}),
      ...(opts.shareWithVersion !== undefined ? { shareWithVersion: opts.shareWithVersion } : {}),
    });
    print(ctx.output, shared, () => `Shared model ${t.name}:${t.version ?? 'latest'} to registry '${registry}' as ${shared.name}:${shared.version}.\nReference it from any workspace as ${referenceOf(shared, registry)}`);
  });

  withGlobalOptions(
    targetOptions(
      model
        .command('package')
        .description('Convert a scikit-learn MLflow model to ONNX (a job in the model\'s own environment), check it against the original on sample data, register it as a new version')
        .argument('[reference]', '<name>:<version>, azureml://registries/<r>/models/<name>/versions/<v> (or --name, --version and --registry)')
        .addOption(new Option('--target <format>', 'what to package as').choices(['onnx']).default('onnx'))
        .option('--output-name <name>', 'the packaged model\'s name (default: <name>-onnx)')
        .option('--output-version <version>', 'its version (default: the next one)')
        .addOption(new Option('--tolerance <x>', 'largest absolute difference allowed between the original and the package on the sample data').argParser(nonNegative).default(1e-4, '1e-4'))
        .option('--no-stream', 'submit and return: follow it with lapis job logs <job> --follow'),
    ),
  ).action(async (ref: string | undefined, opts: TargetFlags & { target: string; outputName?: string; outputVersion?: string; tolerance: number; stream: boolean }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const t = targetOf('models', ref, opts);
    const version = versionOf('models', t, 'package');
    const res = await ctx.client.models.package(t.name, version, {
      ...(t.registry ? { registry: t.registry } : {}),
      target: opts.target,
      tolerance: opts.tolerance,
      ...(opts.outputName !== undefined ? { outputName: opts.outputName } : {}),
      ...(opts.outputVersion !== undefined ? { outputVersion: opts.outputVersion } : {}),
    });
    const job = res.job.name;
    if (!opts.stream) {
      print(ctx.output, res, () => `Packaging ${res.source} as ${res.target} in job ${job}; the result will be registered as ${res.output_name}.\n  follow it: lapis job logs ${job} --follow`);
      return;
    }
    note(`Packaging ${res.source} as ${res.target} in job ${job}; streaming its log (Ctrl-C stops streaming, the job goes on).`);
    const end = await streamJobLog(ctx, job, 0);
    const final = await ctx.client.jobs.get(job);
    const registered = final.outputs.model && 'registered' in final.outputs.model ? final.outputs.model.registered : undefined;
    print(ctx.output, { ...res, job: final, registered: registered ?? null }, () =>
      final.status === 'Completed' && registered
        ? `Packaged ${res.source} as ${registered} (job ${job}). Deploy it like any model; with no scoring script it runs on the in-process ONNX runtime.`
        : `Packaging ${res.source} ${final.status.toLowerCase()}${final.error ? `: ${final.error}` : ''}; nothing was registered. The job's log above says why (lapis job logs ${job}).`,
    );
    if (end !== 'Completed') process.exitCode = 1;
  });
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw bad(`--tolerance must be a number ≥ 0 (got '${value}').`);
  return n;
}

async function refuseExisting(ctx: CommandContext, name: string, version: string, registry: string | undefined): Promise<void> {
  const found = await ctx.client.models.get(name, version, scopeOf(registry)).catch((err: unknown) => {
    if (err instanceof LapisError && (err.code === 'NOT_FOUND' || err.code === 'INVALID_ARGUMENT')) return undefined;
    throw err;
  });
  if (found) throw new LapisError('ALREADY_EXISTS', `Model ${name}:${version} already exists and versions are immutable. Omit 'version' to get the next one (or --set version=<v>).`);
}

function latestOf(versions: ModelVersion[]): string {
  const n = Math.max(0, ...versions.map((v) => Number(v.version)).filter(Number.isFinite));
  return n > 0 ? String(n) : '-';
}

function referenceOf(mv: ModelVersion, registry: string | undefined): string {
  return registry ? `azureml://registries/${registry}/models/${mv.name}/versions/${mv.version}` : `azureml:${mv.name}:${mv.version}`;
}

function modelView(mv: ModelVersion, registry: string | undefined): string {
  const shared = (mv.lineage as { shared_from?: { workspace: string; name: string; version: string } } | undefined)?.shared_from;
  const rows: [string, string][] = [
    ['Reference', referenceOf(mv, registry)],
    ['Type', mv.model_type ?? '-'],
    ['Description', mv.description ?? '-'],
    ['Source', mv.source],
    ['Run', mv.run_id ?? '-'],
    ['Logged model', mv.model_id ?? '-'],
    ['Stage', mv.current_stage],
    ['Aliases', mv.aliases.length > 0 ? mv.aliases.join(', ') : '-'],
    ['Tags', mv.tags.length === 0 ? '-' : mv.tags.map((t) => `${t.key}=${t.value}`).join(', ')],
    ['Created', `${formatTime(mv.creation_timestamp)}${mv.user_id ? ` by ${mv.user_id}` : ''}`],
    ['Archived', mv.archived ? 'yes' : 'no'],
  ];
  if (shared) rows.push(['Shared from', `workspace ${shared.workspace}: ${shared.name}:${shared.version}`]);
  return `Model ${mv.name}:${mv.version}${registry ? ` (registry ${registry})` : ''}\n${fields(rows)}`;
}

const EDGE_LABELS: Record<string, string> = {
  produced_by: 'produced by',
  in_experiment: 'in experiment',
  consumed: 'consumed',
  ran_in: 'ran in',
  ran_code: 'ran code',
  shared_from: 'shared from',
  packaged_from: 'packaged from',
  logged_model: 'logged model',
};

const NODE_LABELS: Record<LineageNode['kind'], string> = {
  model_version: 'model',
  run: 'run',
  experiment: 'experiment',
  logged_model: 'logged model',
  dataset: 'dataset',
  data: 'data asset',
  environment: 'environment',
  code: 'code',
  registry_model: 'registry model',
  deployment: 'deployment',
};

function describeNode(node: LineageNode | undefined, id: string): string {
  if (!node) return id;
  const ref = node.ref && node.ref !== node.label ? ` (${truncate(node.ref, 80)})` : '';
  return `${NODE_LABELS[node.kind] ?? node.kind} ${node.label}${ref}`;
}

/**
 * The lineage graph as a tree from the model: model ← run (in its experiment) ← the data it
 * consumed, the environment it ran in, its code; and where a shared version was shared from.
 */
export function lineageTree(g: LineageGraph, indent = ''): string {
  const nodes = new Map(g.nodes.map((n) => [n.id, n]));
  const children = new Map<string, { to: string; kind: string }[]>();
  for (const e of g.edges) children.set(e.from, [...(children.get(e.from) ?? []), { to: e.to, kind: e.kind }]);
  const lines = [`${indent}${describeNode(nodes.get(g.root), g.root)}`];
  const walk = (id: string, prefix: string, path: Set<string>): void => {
    const kids = children.get(id) ?? [];
    kids.forEach((edge, i) => {
      const last = i === kids.length - 1;
      const label = EDGE_LABELS[edge.kind] ?? edge.kind.replace(/_/g, ' ');
      lines.push(`${indent}${prefix}${last ? '└─ ' : '├─ '}${label}: ${describeNode(nodes.get(edge.to), edge.to)}`);
      if (!path.has(edge.to)) walk(edge.to, `${prefix}${last ? '   ' : '│  '}`, new Set([...path, edge.to]));
    });
  };
  walk(g.root, '', new Set([g.root]));
  if (lines.length === 1) lines.push(`${indent}(no recorded origin: created from uploaded files)`);
  return lines.join('\n');
}
