import { createHash } from 'node:crypto';
import type { Selectable } from 'kysely';
import { now } from '../core/clock.js';
import { alreadyExists, invalid, LapisError, notFound } from '../core/errors.js';
import type { Database } from '../store/db.js';
import type { AssetTable } from '../store/schema.js';
import { parseAssetRef, validateSpec, type AssetKind, type SpecKind } from '../specs/index.js';
import { checkHash, type ContentStore } from './content.js';

export type PlainAssetKind = 'data' | 'environment' | 'component';

export interface AssetView {
  kind: PlainAssetKind;
  name: string;
  version: string;
  description?: string;
  tags: Record<string, string>;
  spec: Record<string, unknown>;
  /** Hash of the uploaded files (data folder, code snapshot), if any. */
  content_hash?: string;
  /** Hash of the spec's identity (e.g. an environment's image + conda + python): the cache key. */
  spec_hash: string;
  created_at: number;
  created_by: string;
  archived: boolean;
  scope: string;
  reference: string;
  lineage?: unknown;
}

const REF_KIND: Record<PlainAssetKind, AssetKind> = { data: 'data', environment: 'environments', component: 'components' };

/** Canonical JSON (sorted keys), so equal specs hash equally whatever their key order. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What identifies an asset's behaviour: for environments the build inputs, else spec + content. */
function specHash(kind: PlainAssetKind, spec: Record<string, unknown>, content: string | undefined): string {
  const identity =
    kind === 'environment'
      ? { image: spec.image ?? null, conda_file: spec.conda_file ?? null, build: spec.build ?? null, python: spec.python ?? null, content: content ?? null }
      : { spec: { ...spec, name: undefined, version: undefined, description: undefined, tags: undefined }, content: content ?? null };
  return createHash('sha256').update(canonical(identity)).digest('hex');
}

export function specErrors(kind: SpecKind, spec: unknown): void {
  const errors = validateSpec(kind, spec);
  if (errors.length > 0) {
    throw new LapisError('INVALID_ARGUMENT', `The ${kind} spec has ${errors.length} error${errors.length === 1 ? '' : 's'}:\n${errors.map((e) => `  ${e.path || '/'}: ${e.message}`).join('\n')}`, { errors });
  }
}

const LOCAL_ONLY = /^(?!([a-z][a-z0-9+.-]*:))/i;

/**
 * Data assets, environments and components: immutable, versioned specs, scoped to a workspace
 * or a registry (`registry/<name>`). A version, once created, never changes; archiving only hides
 * it from listings and from `@latest`.
 */
export class AssetService {
  readonly #database: Database;
  readonly #content: ContentStore;

  constructor(database: Database, content: ContentStore) {
    this.#database = database;
    this.#content = content;
  }

  async create(scope: string, kind: PlainAssetKind, rawSpec: unknown, contentHash: unknown, createdBy: string, lineage?: unknown): Promise<AssetView> {
    specErrors(kind, rawSpec);
    const spec = rawSpec as Record<string, unknown>;
    const name = String(spec.name);
    const content = contentHash === undefined || contentHash === null || contentHash === '' ? undefined : checkHash(contentHash);
    if (content && !(await this.#content.find(scope, content))) {
      throw invalid(`Content ${content.slice(0, 12)}… was not uploaded to this ${scope.startsWith('registry/') ? 'registry' : 'workspace'}: upload and commit it first.`);
    }
    if (kind === 'data' && !content && LOCAL_ONLY.test(String(spec.path))) {
      throw invalid(`Data path '${String(spec.path)}' is a local path: upload it (the CLI does this for you), or give a URI such as https://…, s3://… or azureml://datastores/<name>/paths/<path>.`);
    }
    const version = spec.version === undefined ? await this.#nextVersion(scope, kind, name) : String(spec.version);
    const exists = await this.#database.db.selectFrom('assets').select('spec_hash').where('scope', '=', scope).where('kind', '=', kind).where('name', '=', name).where('version', '=', version).executeTakeFirst();
    if (exists) {
      throw alreadyExists(
        `${kind} ${name}:${version} already exists and versions are immutable. Create a new version (omit 'version' to get the next one, or --set version=<v>).`,
      );
    }
    const row: AssetTable = {
      scope,
      kind,
      name,
      version,
      spec: JSON.stringify({ ...spec, version }),
      content_hash: content ?? null,
      spec_hash: specHash(kind, spec, content),
      description: typeof spec.description === 'string' ? spec.description : null,
      tags: JSON.stringify(spec.tags ?? {}),
      created_at: now(),
      created_by: createdBy,
      archived: 0,
      lineage: lineage === undefined ? null : JSON.stringify(lineage),
    };
    try {
      await this.#database.db.insertInto('assets').values(row).execute();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw alreadyExists(`${kind} ${name}:${version} already exists.`);
      throw err;
    }
    return view(row);
  }

  async #nextVersion(scope: string, kind: PlainAssetKind, name: string): Promise<string> {
    const rows = await this.#database.db.selectFrom('assets').select('version').where('scope', '=', scope).where('kind', '=', kind).where('name', '=', name).execute();
    const max = rows.map((r) => (/^\d+$/.test(r.version) ? Number(r.version) : 0)).reduce((a, b) => Math.max(a, b), 0);
    return String(max + 1);
  }

  async get(scope: string, kind: PlainAssetKind, name: string, version: string | 'latest'): Promise<AssetView> {
    let q = this.#database.db.selectFrom('assets').selectAll().where('scope', '=', scope).where('kind', '=', kind).where('name', '=', name);
    q = version === 'latest' ? q.where('archived', '=', 0).orderBy('created_at', 'desc').limit(1) : q.where('version', '=', version);
    const row = await q.executeTakeFirst();
    if (!row) {
      const where = scope.startsWith('registry/') ? `registry '${scope.slice(9)}'` : `workspace '${scope}'`;
      throw notFound(`No ${kind} '${name}'${version === 'latest' ? ' (latest, non-archived)' : ` version '${version}'`} in ${where}. List them with 'lapis ${kind} list'.`);
    }
    return view(row);
  }

  /** Resolves any reference form (`azureml:n:v`, `n@latest`, `azureml://registries/r/data/n/versions/v`, …). */
  async resolve(workspace: string, kind: PlainAssetKind, reference: string): Promise<AssetView> {
    const ref = parseAssetRef(reference, REF_KIND[kind]);
    const scope = ref.registry ? `registry/${ref.registry}` : workspace;
    return this.get(scope, kind, ref.name, ref.version ?? 'latest');
  }

  async list(scope: string, kind: PlainAssetKind, opts: { name?: string | undefined; includeArchived?: boolean | undefined }): Promise<AssetView[]> {
    let q = this.#database.db.selectFrom('assets').selectAll().where('scope', '=', scope).where('kind', '=', kind);
    if (opts.name) q = q.where('name', '=', opts.name);
    if (!opts.includeArchived) q = q.where('archived', '=', 0);
    const rows = await q.orderBy('name').orderBy('created_at', 'desc').execute();
    if (opts.name) return rows.map(view);
    // Without a name: the latest version of each asset, as `az ml data list` shows.
    const latest = new Map<string, Selectable<AssetTable>>();
    for (const r of rows) if (!latest.has(r.name)) latest.set(r.name, r);
    return [...latest.values()].map(view);
  }

  async setArchived(scope: string, kind: PlainAssetKind, name: string, version: string, archived: boolean): Promise<AssetView> {
    const asset = await this.get(scope, kind, name, version);
    await this.#database.db
      .updateTable('assets')
      .set({ archived: archived ? 1 : 0 })
      .where('scope', '=', scope)
      .where('kind', '=', kind)
      .where('name', '=', name)
      .where('version', '=', asset.version)
      .execute();
    return { ...asset, archived };
  }

  async countIn(scope: string): Promise<number> {
    const row = await this.#database.db.selectFrom('assets').select((eb) => eb.fn.countAll<number>().as('n')).where('scope', '=', scope).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async purge(scope: string): Promise<void> {
    await this.#database.db.deleteFrom('assets').where('scope', '=', scope).execute();
    await this.#database.db.deleteFrom('contents').where('scope', '=', scope).execute();
  }
}

function view(row: Selectable<AssetTable> | AssetTable): AssetView {
  const kind = row.kind;
  const registry = row.scope.startsWith('registry/') ? row.scope.slice('registry/'.length) : undefined;
  const out: AssetView = {
    kind,
    name: row.name,
    version: row.version,
    tags: JSON.parse(row.tags) as Record<string, string>,
    spec: JSON.parse(row.spec) as Record<string, unknown>,
    spec_hash: row.spec_hash,
    created_at: Number(row.created_at),
    created_by: row.created_by,
    archived: row.archived === 1,
    scope: row.scope,
    reference: registry ? `azureml://registries/${registry}/${REF_KIND[kind]}/${row.name}/versions/${row.version}` : `azureml:${row.name}:${row.version}`,
  };
  if (row.description !== null) out.description = row.description;
  if (row.content_hash) out.content_hash = row.content_hash;
  if (row.lineage) out.lineage = JSON.parse(row.lineage) as unknown;
  return out;
}
