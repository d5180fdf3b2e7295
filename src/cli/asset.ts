import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { LapisError, plural, type AssetsApi, type AssetVersion, type PlainAssetKind } from '../client/index.js';
import { downloadAssetFiles } from '../client/download.js';
import { validateSpec, type AssetKind, type SpecKind } from '../specs/index.js';
import {
  bad,
  localEntry,
  localPathOf,
  readSpec,
  readText,
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
import { contextOf, withGlobalOptions, type CommandContext } from './context.js';
import { fields, formatBytes, formatTime, print, table, truncate } from './output.js';

type Spec = Record<string, unknown>;

interface KindInfo {
  kind: PlainAssetKind;
  refKind: AssetKind;
  /** What the command group is called and says. */
  description: string;
  api: (ctx: CommandContext) => AssetsApi;
  /** Turns the loaded spec into what is sent: local files uploaded (content hash), files inlined. */
  prepare: (ctx: CommandContext, spec: Spec, dir: string, file: string, registry: string | undefined) => Promise<{ spec: Spec; content?: string }>;
  columns: { head: string[]; row: (a: AssetVersion) => string[] };
  details: (a: AssetVersion) => [string, string][];
}

/** `lapis data | environment | component` create, list, show, download, archive, restore, share. */
export function assetCommands(program: Command): void {
  for (const info of KINDS) assetCommand(program, info);
}

function assetCommand(program: Command, info: KindInfo): void {
  const { kind } = info;
  const group = program.command(kind).description(info.description);

  withGlobalOptions(
    registryOptions(specOptions(group.command('create').description(`Create a ${kind} version from its YAML (local files are uploaded; unchanged content is reused)`), kind), 'create it in this registry instead of the workspace'),
  ).action(async (opts: { file: string; set?: string[] } & ScopeFlags, cmd: Command) => {
    const ctx = contextOf(cmd);
    const registry = registryOf(opts);
    const { spec: loaded, dir } = await readSpec(kind, opts.file, opts.set);
    const spec = loaded as Spec;
    const api = info.api(ctx);
    await refuseExisting(api, spec, registry);
    const prepared = await info.prepare(ctx, spec, dir, opts.file, registry);
    const created = await api.create(prepared.spec, { ...scopeOf(registry), ...(prepared.content ? { content: prepared.content } : {}) });
    print(ctx.output, created, () => `Created ${kind} ${created.name}:${created.version} (${created.reference}).\n${view(info, created)}`);
  });

  withGlobalOptions(
    registryOptions(
      group
        .command('list')
        .description(`List ${kind === 'data' ? 'data assets' : `${kind}s`}: the latest version of each, or every version of --name`)
        .option('-n, --name <name>', 'every version of this name, newest first')
        .option('--include-archived', 'also archived versions'),
      'list this registry instead of the workspace',
    ),
  ).action(async (opts: { name?: string; includeArchived?: boolean } & ScopeFlags, cmd: Command) => {
    const ctx = contextOf(cmd);
    const registry = registryOf(opts);
    const items = await info.api(ctx).list({ ...scopeOf(registry), ...(opts.name ? { name: opts.name } : {}), includeArchived: opts.includeArchived === true });
    print(ctx.output, items, () => {
      if (items.length === 0) return opts.name ? `No ${kind} named '${opts.name}'${opts.includeArchived ? '' : ' (archived versions are hidden; --include-archived shows them)'}.` : `No ${kind === 'data' ? 'data assets' : `${kind}s`}.`;
      const archived = items.some((a) => a.archived);
      return table(
        ['NAME', 'VERSION', ...info.columns.head, 'CREATED', ...(archived ? ['ARCHIVED'] : [])],
        items.map((a) => [a.name, a.version, ...info.columns.row(a), formatTime(a.created_at), ...(archived ? [a.archived ? 'yes' : ''] : [])]),
      );
    });
  });

  withGlobalOptions(
    registryOptions(
      targetOptions(
        group
          .command('show')
          .description(`Show a ${kind} version: <name>:<version>, <name>@latest, azureml:…, or a registry URI`)
          .argument('[reference]', `e.g. ${kind === 'data' ? 'iris:1' : kind === 'environment' ? 'sklearn-env@latest' : 'train_model:2'}`),
      ),
      'look in this registry',
    ),
  ).action(async (ref: string | undefined, opts: TargetFlags, cmd: Command) => {
    const ctx = contextOf(cmd);
    const t = targetOf(info.refKind, ref, opts);
    const asset = await info.api(ctx).get(t.name, t.version ?? 'latest', scopeOf(t.registry));
    print(ctx.output, asset, () => view(info, asset));
  });

  withGlobalOptions(
    registryOptions(
      targetOptions(
        group
          .command('download')
          .description(`Download the uploaded files of a ${kind} version into <dest>/<name>/`)
          .argument('[reference]', '<name>:<version>, <name>@latest, …')
          .option('--dest <dir>', 'local folder', '.'),
      ),
      'download from this registry',
    ),
  ).action(async (ref: string | undefined, opts: TargetFlags & { dest: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const t = targetOf(info.refKind, ref, opts);
    const api = info.api(ctx);
    const asset = await api.get(t.name, t.version ?? 'latest', scopeOf(t.registry));
    if (!asset.content_hash) {
      throw new LapisError('NOT_FOUND', `${kind} ${asset.name}:${asset.version} has no uploaded files${typeof asset.spec.path === 'string' ? `: its path is ${asset.spec.path}` : ''}.`);
    }
    const result = await withDownload((p) => downloadAssetFiles(ctx.client, kind, asset.name, asset.version, { ...scopeOf(t.registry), dest: opts.dest, ...p }));
    print(ctx.output, result, () => `${result.files.map((f) => f.local_path).join('\n')}\nDownloaded ${plural(result.files.length, 'file')} (${formatBytes(result.bytes)}) of ${kind} ${asset.name}:${asset.version} to ${result.local_path}`);
  });

  for (const verb of ['archive', 'restore'] as const) {
    withGlobalOptions(
      registryOptions(
        targetOptions(
          group
            .command(verb)
            .description(verb === 'archive' ? `Archive a ${kind} version: hidden from list and @latest; explicit references still resolve` : `Restore an archived ${kind} version`)
            .argument('[reference]', '<name>:<version>'),
        ),
        'in this registry',
      ),
    ).action(async (ref: string | undefined, opts: TargetFlags, cmd: Command) => {
      const ctx = contextOf(cmd);
      const t = targetOf(info.refKind, ref, opts);
      const version = versionOf(info.refKind, t, verb);
      const api = info.api(ctx);
      const asset = verb === 'archive' ? await api.archive(t.name, version, scopeOf(t.registry)) : await api.restore(t.name, version, scopeOf(t.registry));
      print(ctx.output, asset, () => `${verb === 'archive' ? 'Archived' : 'Restored'} ${kind} ${asset.name}:${asset.version}.`);
    });
  }

  withGlobalOptions(
    targetOptions(
      group
        .command('share')
        .description(`Copy a ${kind} version (and its files) from the workspace into a registry, where every workspace can use it`)
        .argument('[reference]', '<name>:<version>')
        .option('--registry <name>', 'the registry to share to')
        .option('--registry-name <name>', 'same as --registry (az ml spelling)')
        .option('--share-with-name <name>', 'name in the registry (default: the same)')
        .option('--share-with-version <version>', 'version in the registry (default: the same)'),
    ),
  ).action(async (ref: string | undefined, opts: TargetFlags & { shareWithName?: string; shareWithVersion?: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const registry = registryOf(opts);
    if (!registry) throw bad('Name the registry to share to: --registry <name> (see lapis registry list).');
    const t = targetOf(info.refKind, ref, { ...opts, registry: undefined, registryName: undefined });
    if (t.registry) throw bad('Share from the workspace: name the source as <name>:<version>, not a registry URI.');
    const shared = await info.api(ctx).share(t.name, t.version ?? 'latest', {
      registry,
      ...(opts.shareWithName !== undefined ? { shareWithName: opts.shareWithName } : {}),
      ...(opts.shareWithVersion !== undefined ? { shareWithVersion: opts.shareWithVersion } : {}),
    });
    print(ctx.output, shared, () => `Shared ${kind} ${t.name}:${t.version ?? 'latest'} to registry '${registry}' as ${shared.name}:${shared.version}.\nReference it from any workspace as ${shared.reference}`);
  });
}

/** An explicit version that already exists is refused before anything is uploaded. */
async function refuseExisting(api: AssetsApi, spec: Spec, registry: string | undefined): Promise<void> {
  if (spec.version === undefined) return;
  const name = String(spec.name);
  const version = String(spec.version);
  const found = await api.get(name, version, scopeOf(registry)).catch((err: unknown) => {
    if (err instanceof LapisError && err.code === 'NOT_FOUND') return undefined;
    throw err;
  });
  if (found) {
    throw new LapisError(
      'ALREADY_EXISTS',
      `${api.kind} ${name}:${version} already exists and versions are immutable. Create a new version (omit 'version' to get the next one, or --set version=<v>).`,
    );
  }
}

// ------------------------------------------------------------------ per kind

const DATA: KindInfo = {
  kind: 'data',
  refKind: 'data',
  description: 'Data assets: versioned files and folders (uri_file, uri_folder, mltable), or URIs to them',
  api: (ctx) => ctx.client.data,
  async prepare(ctx, spec, dir, _file, registry) {
    const path = String(spec.path);
    const abs = localPathOf(path, dir);
    if (abs === undefined) return { spec };
    const type = String(spec.type ?? 'uri_folder');
    const entry = await localEntry('path', path, abs);
    if (type === 'uri_file' && entry !== 'file') throw bad(`type: uri_file needs a file, but path '${path}' (${abs}) is a folder; use type: uri_folder for folders.`);
    if (type !== 'uri_file' && entry !== 'folder') throw bad(`type: ${type} needs a folder, but path '${path}' (${abs}) is a file; use type: uri_file for a single file.`);
    if (type === 'mltable' && !(await exists(join(abs, 'MLTable')))) {
      throw bad(`type: mltable needs an MLTable file at the top of its folder, and ${join(abs, 'MLTable')} does not exist.`);
    }
    const up = await upload(ctx, abs, path, registry);
    return { spec, content: up.hash };
  },
  columns: { head: ['TYPE', 'PATH'], row: (a) => [String(a.spec.type ?? '-'), truncate(String(a.spec.path ?? '-'), 60)] },
  details: (a) => [
    ['Type', String(a.spec.type ?? '-')],
    ['Path', String(a.spec.path ?? '-')],
  ],
};

const ENVIRONMENT: KindInfo = {
  kind: 'environment',
  refKind: 'environments',
  description: 'Environments: a Docker image, conda file or build context (with python) that jobs and deployments run in',
  api: (ctx) => ctx.client.environments,
  async prepare(ctx, loaded, dir, file, registry) {
    const spec = await inlineConda(loaded, dir, file, []);
    const build = spec.build as { path: string; dockerfile_path?: string } | undefined;
    if (!build) return { spec };
    const abs = localPathOf(build.path, dir);
    if (abs === undefined) return { spec };
    if ((await localEntry('build.path', build.path, abs)) !== 'folder') throw bad(`build.path '${build.path}' (${abs}) must be a folder: the Docker build context.`);
    const dockerfile = join(abs, ...(build.dockerfile_path ?? 'Dockerfile').split('/'));
    if (!(await exists(dockerfile))) throw bad(`build.dockerfile_path '${build.dockerfile_path ?? 'Dockerfile'}' is not in the build context: ${dockerfile} does not exist.`);
    const up = await upload(ctx, abs, build.path, registry);
    return { spec, content: up.hash };
  },
  columns: { head: ['SOURCE'], row: (a) => [truncate(sourceOf(a.spec), 60)] },
  details: (a) => {
    const rows: [string, string][] = [];
    if (a.spec.image !== undefined) rows.push(['Image', String(a.spec.image)]);
    if (a.spec.conda_file !== undefined) rows.push(['Conda', condaSummary(a.spec.conda_file)]);
    const build = a.spec.build as { path?: string; dockerfile_path?: string } | undefined;
    if (build) rows.push(['Build', `${build.path ?? '-'} (${build.dockerfile_path ?? 'Dockerfile'})`]);
    if (a.spec.python !== undefined) rows.push(['Python', String(a.spec.python)]);
    rows.push(['OS', String(a.spec.os_type ?? 'linux')]);
    return rows;
  },
};

const COMPONENT: KindInfo = {
  kind: 'component',
  refKind: 'components',
  description: 'Components: reusable command steps with typed inputs and outputs, their code snapshot and environment',
  api: (ctx) => ctx.client.components,
  async prepare(ctx, loaded, dir, file, registry) {
    let spec = loaded;
    if (spec.environment && typeof spec.environment === 'object') {
      spec = { ...spec, environment: await inlineConda(spec.environment as Spec, dir, file, ['environment']) };
    }
    if (typeof spec.code !== 'string') return { spec };
    const abs = localPathOf(spec.code, dir);
    if (abs === undefined) return { spec };
    await localEntry('code', spec.code, abs);
    const up = await upload(ctx, abs, spec.code, registry);
    return { spec, content: up.hash };
  },
  columns: { head: ['DISPLAY NAME', 'ENVIRONMENT'], row: (a) => [String(a.spec.display_name ?? '-'), truncate(typeof a.spec.environment === 'string' ? a.spec.environment : a.spec.environment ? 'inline' : '-', 50)] },
  details: (a) => {
    const rows: [string, string][] = [];
    if (a.spec.display_name !== undefined) rows.push(['Display name', String(a.spec.display_name)]);
    rows.push(['Type', String(a.spec.type ?? 'command')]);
    rows.push(['Command', String(a.spec.command ?? '-')]);
    if (a.spec.code !== undefined) rows.push(['Code', String(a.spec.code)]);
    rows.push(['Environment', typeof a.spec.environment === 'string' ? a.spec.environment : a.spec.environment ? `inline: ${sourceOf(a.spec.environment as Spec)}` : '-']);
    rows.push(['Deterministic', String(a.spec.is_deterministic ?? true)]);
    return rows;
  },
};

const KINDS = [DATA, ENVIRONMENT, COMPONENT];

// ------------------------------------------------------------------ helpers

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * `conda_file: path/to/conda.yml` is read (relative to the YAML's folder) and sent inline, so the
 * server stores what the environment is, not a path on someone's laptop. Its errors carry its own
 * `file:line:col`.
 */
export async function inlineConda(spec: Spec, dir: string, file: string, at: string[]): Promise<Spec> {
  if (typeof spec.conda_file !== 'string') return spec;
  const condaPath = spec.conda_file;
  const abs = localPathOf(condaPath, dir);
  if (abs === undefined) throw bad(`${file}: ${[...at, 'conda_file'].join('.')} '${condaPath}' must be a local file (or the conda environment inline).`);
  const text = await readText(abs, 'conda');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0]);
      return `  ${condaPath}:${line}:${col} YAML syntax error: ${e.message.split('\n')[0] ?? e.code}`;
    });
    throw bad(`${condaPath} has ${plural(errors.length, 'error')}:\n${errors.join('\n')}`);
  }
  if (!isMap(doc.contents)) throw bad(`${condaPath} must be a conda environment: a mapping with dependencies: [...] (from ${[...at, 'conda_file'].join('.')} in ${file}).`);
  const inlined = { ...spec, conda_file: doc.toJS() as unknown };
  const kind: SpecKind = 'environment';
  const probe = at.length === 0 ? inlined : { name: 'probe', ...inlined };
  const errors = validateSpec(kind, probe).filter((e) => e.path === 'conda_file' || e.path.startsWith('conda_file.') || e.path.startsWith('conda_file['));
  if (errors.length > 0) {
    const lines2 = errors.map((e) => `  ${condaPath} ${e.path.replace(/^conda_file\.?/, '') || '(root)'}: ${e.message}`);
    throw bad(`${condaPath} (conda_file of ${file}) has ${plural(errors.length, 'error')}:\n${lines2.join('\n')}`);
  }
  return inlined;
}

function condaSummary(conda: unknown): string {
  if (typeof conda === 'string') return conda;
  const deps = (conda as { dependencies?: unknown[] } | undefined)?.dependencies ?? [];
  const names = deps.flatMap((d) => (typeof d === 'string' ? [d] : Array.isArray((d as { pip?: unknown }).pip) ? ((d as { pip: string[] }).pip.map((p) => `pip:${p}`)) : []));
  return truncate(names.join(', ') || 'inline', 100);
}

function sourceOf(spec: Spec): string {
  if (spec.image !== undefined) return `image ${String(spec.image)}${spec.conda_file !== undefined ? ' + conda' : ''}`;
  if (spec.build !== undefined) return `build ${String((spec.build as { path?: string }).path ?? '')}`;
  if (spec.conda_file !== undefined) return `conda${spec.python !== undefined ? ` (python ${String(spec.python)})` : ''}`;
  return '-';
}

function view(info: KindInfo, a: AssetVersion): string {
  const shared = a.lineage?.shared_from;
  const rows: [string, string][] = [
    ['Reference', a.reference],
    ['Description', a.description ?? '-'],
    ...info.details(a),
    ['Content', a.content_hash ?? '-'],
    ['Tags', Object.keys(a.tags).length === 0 ? '-' : Object.entries(a.tags).map(([k, v]) => `${k}=${v}`).join(', ')],
    ['Created', `${formatTime(a.created_at)} by ${a.created_by}`],
    ['Archived', a.archived ? 'yes' : 'no'],
  ];
  if (shared) rows.push(['Shared from', `workspace ${shared.workspace}: ${shared.name}:${shared.version}`]);
  const head = `${info.kind.charAt(0).toUpperCase()}${info.kind.slice(1)} ${a.name}:${a.version}${a.scope.startsWith('registry/') ? ` (registry ${a.scope.slice('registry/'.length)})` : ''}`;
  const inputs = info.kind === 'component' ? componentPorts(a.spec) : '';
  return `${head}\n${fields(rows)}${inputs}`;
}

function componentPorts(spec: Spec): string {
  const inputs = Object.entries((spec.inputs ?? {}) as Record<string, Spec>);
  const outputs = Object.entries((spec.outputs ?? {}) as Record<string, Spec>);
  const out: string[] = [];
  if (inputs.length > 0) {
    out.push(
      `\nInputs\n${table(
        ['NAME', 'TYPE', 'DEFAULT', 'OPTIONAL', 'CONSTRAINTS'],
        inputs.map(([n, i]) => [
          n,
          String(i.type),
          i.default === undefined ? '-' : String(i.default),
          i.optional ? 'yes' : 'no',
          [i.min !== undefined ? `min ${String(i.min)}` : '', i.max !== undefined ? `max ${String(i.max)}` : '', Array.isArray(i.enum) ? `one of ${i.enum.join('|')}` : ''].filter(Boolean).join(', ') || '-',
        ]),
        '  ',
      )}`,
    );
  }
  if (outputs.length > 0) out.push(`\nOutputs\n${table(['NAME', 'TYPE'], outputs.map(([n, o]) => [n, String(o.type)]), '  ')}`);
  return out.join('');
}
