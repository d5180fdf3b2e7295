import { sql, type Selectable } from 'kysely';
import { now } from '../core/clock.js';
import { alreadyExists, invalid, notFound } from '../core/errors.js';
import { decodePageToken, paginate } from '../core/pagination.js';
import { insertRows, type Database, type Tx } from '../store/db.js';
import type { ModelVersionTable, RegisteredModelTable } from '../store/schema.js';
import type { Tracking } from '../tracking/index.js';
import { parseFilter, parseOrderBys, type Clause } from '../tracking/search/grammar.js';
import { and, compare } from '../tracking/sql.js';
import { checkKey, checkValueLength, keyValues } from '../tracking/validation.js';
import type { Workspace } from '../workspaces/service.js';

export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export type Stage = (typeof STAGES)[number];

export interface ModelVersionView {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  current_stage: Stage;
  description?: string;
  source: string;
  run_id?: string;
  status: string;
  status_message?: string;
  tags: { key: string; value: string }[];
  run_link?: string;
  aliases: string[];
  model_id?: string;
  /** Lapis: Azure ML model type, whether archived, and the where-from snapshot of shared versions. */
  model_type?: string;
  archived?: boolean;
  lineage?: unknown;
}

export interface RegisteredModelView {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  description?: string;
  latest_versions: ModelVersionView[];
  tags: { key: string; value: string }[];
  aliases: { alias: string; version: string }[];
}

const TAG_VALUE_LIMIT = 5000;

export function checkModelName(name: unknown, param = 'name'): string {
  if (typeof name !== 'string' || name.trim() === '') throw invalid(`Missing value for required parameter '${param}': registered model names are non-empty strings.`);
  if (name.length > 256) throw invalid(`Registered model name is ${name.length} characters long; the limit is 256.`);
  // A '/' would make `models:/<name>/<version>` URIs ambiguous.
  if (name.includes('/')) throw invalid(`Invalid registered model name '${name}': names may not contain '/'.`);
  return name;
}

export function checkAlias(alias: unknown): string {
  if (typeof alias !== 'string' || !/^[\w-]{1,255}$/.test(alias)) {
    throw invalid(`Invalid alias ${JSON.stringify(alias)}: aliases are 1–255 letters, digits, '_' or '-'.`);
  }
  if (alias.toLowerCase() === 'latest' || /^v\d+$/i.test(alias)) {
    throw invalid(`Invalid alias '${alias}': 'latest' and 'v<number>' are reserved because they already name versions.`);
  }
  return alias;
}

/**
 * Registry tag filters: `tags.k != 'v'` also matches entities without the tag — the MLflow client
 * relies on it to hide prompts (`tags.\`mlflow.prompt.is_prompt\` != 'true'`) from model searches.
 */
function tagTest(c: Clause): { exists: ReturnType<typeof sql.raw>; comparator: Clause['comparator'] } {
  return c.comparator === '!=' ? { exists: sql.raw('not exists'), comparator: '=' } : { exists: sql.raw('exists'), comparator: c.comparator };
}

function parseVersion(version: unknown): number {
  const text = typeof version === 'number' ? String(version) : version;
  if (typeof text !== 'string' || !/^\d{1,9}$/.test(text) || Number(text) < 1) {
    throw invalid(`Invalid model version ${JSON.stringify(version)}: versions are positive integers such as '3'.`);
  }
  return Number(text);
}

export function parseStage(stage: unknown): Stage {
  const found = STAGES.find((s) => s.toLowerCase() === String(stage ?? '').toLowerCase());
  if (!found) throw invalid(`Invalid model version stage ${JSON.stringify(stage)}: use one of ${STAGES.join(', ')}.`);
  return found;
}

/**
 * MLflow's model registry, per workspace: registered models, their versions (with MLflow's stages,
 * still used by many pipelines), tags and aliases. A version's files stay where the run or logged
 * model put them; `storage_location` records where that is.
 */
export class ModelRegistry {
  readonly #database: Database;
  readonly #tracking: Tracking;

  constructor(database: Database, tracking: Tracking) {
    this.#database = database;
    this.#tracking = tracking;
  }

  get #db() {
    return this.#database.db;
  }

  async #modelRow(ws: Workspace, name: unknown, db: Database['db'] | Tx = this.#db): Promise<Selectable<RegisteredModelTable>> {
    const checked = checkModelName(name);
    const row = await db.selectFrom('registered_models').selectAll().where('workspace', '=', ws.name).where('name', '=', checked).executeTakeFirst();
    if (!row) throw notFound(`Registered Model with name=${checked} not found`);
    return row;
  }

  async #versionRow(ws: Workspace, name: unknown, version: unknown): Promise<Selectable<ModelVersionTable>> {
    const checked = checkModelName(name);
    const v = parseVersion(version);
    const row = await this.#db.selectFrom('model_versions').selectAll().where('workspace', '=', ws.name).where('name', '=', checked).where('version', '=', v).executeTakeFirst();
    if (!row) throw notFound(`Model Version (name=${checked}, version=${v}) not found`);
    return row;
  }

  async createModel(ws: Workspace, req: { name: unknown; tags?: unknown; description?: unknown; userId?: string }): Promise<RegisteredModelView> {
    const name = checkModelName(req.name);
    const tags = keyValues('Registered model tag', req.tags);
    for (const t of tags) checkValueLength('Registered model tag', t.key, t.value, TAG_VALUE_LIMIT);
    const exists = await this.#db.selectFrom('registered_models').select('name').where('workspace', '=', ws.name).where('name', '=', name).executeTakeFirst();
    if (exists) throw alreadyExists(`Registered Model (name=${name}) already exists.`);
    const t = now();
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .insertInto('registered_models')
        .values({ workspace: ws.name, name, creation_timestamp: t, last_updated_timestamp: t, description: typeof req.description === 'string' ? req.description : null, user_id: req.userId ?? null })
        .execute();
      await insertRows(tx, this.#database.dialect, 'registered_model_tags', ['workspace', 'name', 'key', 'value'], tags.map((x) => [ws.name, name, x.key, x.value]));
    });
    return this.getModel(ws, name);
  }

  async getModel(ws: Workspace, name: unknown): Promise<RegisteredModelView> {
    return (await this.#hydrateModels(ws, [await this.#modelRow(ws, name)]))[0] as RegisteredModelView;
  }

  async renameModel(ws: Workspace, name: unknown, newName: unknown): Promise<RegisteredModelView> {
    const row = await this.#modelRow(ws, name);
    const target = checkModelName(newName, 'new_name');
    if (target !== row.name) {
      const clash = await this.#db.selectFrom('registered_models').select('name').where('workspace', '=', ws.name).where('name', '=', target).executeTakeFirst();
      if (clash) throw alreadyExists(`Registered Model (name=${target}) already exists.`);
      await this.#db.transaction().execute(async (tx) => {
        for (const table of ['registered_models', 'registered_model_tags', 'model_versions', 'model_version_tags', 'registered_model_aliases'] as const) {
          await tx.updateTable(table).set({ name: target }).where('workspace', '=', ws.name).where('name', '=', row.name).execute();
        }
        await tx.updateTable('registered_models').set({ last_updated_timestamp: now() }).where('workspace', '=', ws.name).where('name', '=', target).execute();
      });
    }
    return this.getModel(ws, target);
  }

  async updateModel(ws: Workspace, name: unknown, description: unknown): Promise<RegisteredModelView> {
    const row = await this.#modelRow(ws, name);
    await this.#db
      .updateTable('registered_models')
      .set({ description: typeof description === 'string' ? description : null, last_updated_timestamp: now() })
      .where('workspace', '=', ws.name)
      .where('name', '=', row.name)
      .execute();
    return this.getModel(ws, row.name);
  }

  async deleteModel(ws: Workspace, name: unknown): Promise<void> {
    const row = await this.#modelRow(ws, name);
    await this.#db.transaction().execute(async (tx) => {
      for (const table of ['registered_model_aliases', 'model_version_tags', 'model_versions', 'registered_model_tags', 'registered_models'] as const) {
        await tx.deleteFrom(table).where('workspace', '=', ws.name).where('name', '=', row.name).execute();
      }
    });
  }

  async setModelTag(ws: Workspace, name: unknown, key: unknown, value: unknown): Promise<void> {
    const row = await this.#modelRow(ws, name);
    const k = checkKey('Registered model tag', key);
    const v = String(value ?? '');
    checkValueLength('Registered model tag', k, v, TAG_VALUE_LIMIT);
    await insertRows(this.#db, this.#database.dialect, 'registered_model_tags', ['workspace', 'name', 'key', 'value'], [[ws.name, row.name, k, v]], {
      keys: ['workspace', 'name', 'key'],
      update: ['value'],
    });
  }

  async deleteModelTag(ws: Workspace, name: unknown, key: unknown): Promise<void> {
    const row = await this.#modelRow(ws, name);
    const k = checkKey('Registered model tag', key);
    await this.#db.deleteFrom('registered_model_tags').where('workspace', '=', ws.name).where('name', '=', row.name).where('key', '=', k).execute();
  }

  /** Resolves a version's source to the URI its files live at (MLflow's storage_location). */
  async #storageLocation(ws: Workspace, source: string, runId: string | undefined, modelId: string | undefined): Promise<{ location: string; runId: string | undefined; modelId?: string }> {
    const models = /^models:\/(m-[0-9a-f]{32})\/?$/.exec(source);
    if (models || (modelId && source.startsWith('models:/'))) {
      const id = models?.[1] ?? (modelId as string);
      const model = await this.#tracking.loggedModels.get(ws, id);
      return { location: model.info.artifact_uri, runId: runId ?? model.info.source_run_id, modelId: id };
    }
    const named = /^models:\/([^/@]+)\/(\d+)$/.exec(source);
    if (named) {
      const version = await this.#versionRow(ws, named[1], named[2]);
      return { location: version.storage_location, runId: runId ?? version.run_id ?? undefined };
    }
    const runs = /^runs:\/([0-9a-f]{32})\/(.*)$/.exec(source);
    if (runs) {
      const run = await this.#tracking.runs.findRow(ws, runs[1]);
      // MLflow 3's log_model writes to the logged model, not the run: `runs:/<run>/model` names the
      // run's logged model called `model` when there is one, as the MLflow client resolves it.
      const logged = await this.#tracking.loggedModels.findByRun(ws, run.run_uuid, (runs[2] as string).replace(/\/+$/, ''));
      if (logged) return { location: logged.info.artifact_uri, runId: runId ?? run.run_uuid, modelId: logged.info.model_id };
      return { location: `${run.artifact_uri}/${runs[2]}`.replace(/\/+$/, ''), runId: runId ?? run.run_uuid };
    }
    if (source.includes('..') || /%2e|%2f/i.test(source)) throw invalid(`Invalid model version source '${source}': it may not contain '..' or encoded separators.`);
    if (/^(file:|\/)/.test(source)) {
      throw invalid(`Invalid model version source '${source}': local paths of the client machine are not reachable by the server; log the model to a run first and register 'runs:/<run_id>/<path>' or 'models:/<model_id>'.`);
    }
    return { location: source, runId };
  }

  async createVersion(
    ws: Workspace,
    req: {
      name: unknown;
      source: unknown;
      runId?: unknown;
      tags?: unknown;
      runLink?: unknown;
      description?: unknown;
      modelId?: unknown;
      userId?: string | undefined;
      /** An explicit version (YAML `version:`); refused if it exists. Default: the next one. */
      version?: string | undefined;
      modelType?: string | undefined;
      lineage?: unknown;
    },
  ): Promise<ModelVersionView> {
    const model = await this.#modelRow(ws, req.name);
    if (typeof req.source !== 'string' || req.source === '') throw invalid(`Missing value for required parameter 'source'.`);
    const runId = typeof req.runId === 'string' && req.runId ? req.runId : undefined;
    const modelId = typeof req.modelId === 'string' && req.modelId ? req.modelId : undefined;
    if (runId) await this.#tracking.runs.findRow(ws, runId);
    const tags = keyValues('Model version tag', req.tags);
    for (const t of tags) checkValueLength('Model version tag', t.key, t.value, TAG_VALUE_LIMIT);
    const { location, runId: resolvedRun, modelId: resolvedModel } = await this.#storageLocation(ws, req.source, runId, modelId);
    const t = now();
    const version = await this.#db.transaction().execute(async (tx) => {
      const max = await tx
        .selectFrom('model_versions')
        .select((eb) => eb.fn.max<number>('version').as('v'))
        .where('workspace', '=', ws.name)
        .where('name', '=', model.name)
        .executeTakeFirst();
      let next = Number(max?.v ?? 0) + 1;
      if (req.version !== undefined) {
        next = parseVersion(req.version);
        const taken = await tx.selectFrom('model_versions').select('version').where('workspace', '=', ws.name).where('name', '=', model.name).where('version', '=', next).executeTakeFirst();
        if (taken) throw alreadyExists(`Model ${model.name}:${next} already exists and versions are immutable. Omit 'version' to get the next one.`);
      }
      await tx
        .insertInto('model_versions')
        .values({
          workspace: ws.name,
          name: model.name,
          version: next,
          creation_timestamp: t,
          last_updated_timestamp: t,
          description: typeof req.description === 'string' ? req.description : null,
          user_id: req.userId ?? null,
          current_stage: 'None',
          source: req.source as string,
          storage_location: location,
          run_id: resolvedRun ?? null,
          run_link: typeof req.runLink === 'string' && req.runLink ? req.runLink : null,
          model_id: modelId ?? resolvedModel ?? null,
          status: 'READY',
          status_message: null,
          model_type: req.modelType ?? null,
          lineage: req.lineage === undefined ? null : JSON.stringify(req.lineage),
        })
        .execute();
      await insertRows(tx, this.#database.dialect, 'model_version_tags', ['workspace', 'name', 'version', 'key', 'value'], tags.map((x) => [ws.name, model.name, next, x.key, x.value]));
      await tx.updateTable('registered_models').set({ last_updated_timestamp: t }).where('workspace', '=', ws.name).where('name', '=', model.name).execute();
      return next;
    });
    return this.getVersion(ws, model.name, String(version));
  }

  async getVersion(ws: Workspace, name: unknown, version: unknown): Promise<ModelVersionView> {
    return (await this.#hydrateVersions(ws, [await this.#versionRow(ws, name, version)]))[0] as ModelVersionView;
  }

  async updateVersion(ws: Workspace, name: unknown, version: unknown, description: unknown): Promise<ModelVersionView> {
    const row = await this.#versionRow(ws, name, version);
    await this.#db
      .updateTable('model_versions')
      .set({ description: typeof description === 'string' ? description : null, last_updated_timestamp: now() })
      .where('workspace', '=', ws.name)
      .where('name', '=', row.name)
      .where('version', '=', row.version)
      .execute();
    return this.getVersion(ws, row.name, String(row.version));
  }

  async deleteVersion(ws: Workspace, name: unknown, version: unknown): Promise<void> {
    const row = await this.#versionRow(ws, name, version);
    await this.#db.transaction().execute(async (tx) => {
      for (const table of ['model_version_tags', 'registered_model_aliases', 'model_versions'] as const) {
        await tx.deleteFrom(table).where('workspace', '=', ws.name).where('name', '=', row.name).where('version', '=', row.version).execute();
      }
    });
  }

  async transitionStage(ws: Workspace, name: unknown, version: unknown, stage: unknown, archiveExisting: boolean): Promise<ModelVersionView> {
    const row = await this.#versionRow(ws, name, version);
    const target = parseStage(stage);
    const t = now();
    await this.#db.transaction().execute(async (tx) => {
      if (archiveExisting && (target === 'Staging' || target === 'Production')) {
        await tx
          .updateTable('model_versions')
          .set({ current_stage: 'Archived', last_updated_timestamp: t })
          .where('workspace', '=', ws.name)
          .where('name', '=', row.name)
          .where('current_stage', '=', target)
          .where('version', '!=', row.version)
          .execute();
      }
      await tx.updateTable('model_versions').set({ current_stage: target, last_updated_timestamp: t }).where('workspace', '=', ws.name).where('name', '=', row.name).where('version', '=', row.version).execute();
    });
    return this.getVersion(ws, row.name, String(row.version));
  }

  async setVersionTag(ws: Workspace, name: unknown, version: unknown, key: unknown, value: unknown): Promise<void> {
    const row = await this.#versionRow(ws, name, version);
    const k = checkKey('Model version tag', key);
    const v = String(value ?? '');
    checkValueLength('Model version tag', k, v, TAG_VALUE_LIMIT);
    await insertRows(this.#db, this.#database.dialect, 'model_version_tags', ['workspace', 'name', 'version', 'key', 'value'], [[ws.name, row.name, row.version, k, v]], {
      keys: ['workspace', 'name', 'version', 'key'],
      update: ['value'],
    });
  }

  async deleteVersionTag(ws: Workspace, name: unknown, version: unknown, key: unknown): Promise<void> {
    const row = await this.#versionRow(ws, name, version);
    const k = checkKey('Model version tag', key);
    await this.#db.deleteFrom('model_version_tags').where('workspace', '=', ws.name).where('name', '=', row.name).where('version', '=', row.version).where('key', '=', k).execute();
  }

  async setAlias(ws: Workspace, name: unknown, alias: unknown, version: unknown): Promise<void> {
    const row = await this.#versionRow(ws, name, version);
    const a = checkAlias(alias);
    await insertRows(this.#db, this.#database.dialect, 'registered_model_aliases', ['workspace', 'name', 'alias', 'version'], [[ws.name, row.name, a, row.version]], {
      keys: ['workspace', 'name', 'alias'],
      update: ['version'],
    });
  }

  async deleteAlias(ws: Workspace, name: unknown, alias: unknown): Promise<void> {
    const model = await this.#modelRow(ws, name);
    await this.#db.deleteFrom('registered_model_aliases').where('workspace', '=', ws.name).where('name', '=', model.name).where('alias', '=', String(alias)).execute();
  }

  async versionByAlias(ws: Workspace, name: unknown, alias: unknown): Promise<ModelVersionView> {
    const model = await this.#modelRow(ws, name);
    const row = await this.#db.selectFrom('registered_model_aliases').select('version').where('workspace', '=', ws.name).where('name', '=', model.name).where('alias', '=', String(alias)).executeTakeFirst();
    if (!row) throw notFound(`Registered model alias ${String(alias)} not found.`);
    return this.getVersion(ws, model.name, String(row.version));
  }

  async setArchived(ws: Workspace, name: unknown, version: unknown, archived: boolean): Promise<ModelVersionView> {
    const row = await this.#versionRow(ws, name, version);
    await this.#db.updateTable('model_versions').set({ archived: archived ? 1 : 0 }).where('workspace', '=', ws.name).where('name', '=', row.name).where('version', '=', row.version).execute();
    return this.getVersion(ws, row.name, String(row.version));
  }

  async ensureModel(ws: Workspace, name: string, userId: string | undefined): Promise<void> {
    const exists = await this.#db.selectFrom('registered_models').select('name').where('workspace', '=', ws.name).where('name', '=', name).executeTakeFirst();
    if (!exists) await this.createModel(ws, { name, userId });
  }

  async downloadUri(ws: Workspace, name: unknown, version: unknown): Promise<string> {
    return (await this.#versionRow(ws, name, version)).storage_location;
  }

  async latestVersions(ws: Workspace, name: unknown, stages: string[]): Promise<ModelVersionView[]> {
    const model = await this.#modelRow(ws, name);
    const wanted = stages.length === 0 ? [...STAGES] : stages.map(parseStage);
    const rows = await this.#db.selectFrom('model_versions').selectAll().where('workspace', '=', ws.name).where('name', '=', model.name).orderBy('version', 'desc').execute();
    const latest = new Map<string, Selectable<ModelVersionTable>>();
    for (const r of rows) if (wanted.includes(r.current_stage as Stage) && !latest.has(r.current_stage)) latest.set(r.current_stage, r);
    return this.#hydrateVersions(ws, [...latest.values()]);
  }

  async searchModels(ws: Workspace, req: { filter?: string | undefined; orderBy?: string[] | undefined; maxResults: number; pageToken?: string | undefined }) {
    const { offset } = decodePageToken(req.pageToken);
    const clauses = parseFilter('registered_models', req.filter);
    const orders = parseOrderBys('registered_models', req.orderBy);
    const d = this.#database.dialect;
    const conditions = clauses.map((c, i) => {
      if (c.identifier.type !== 'tag') return compare(sql.ref('m.name'), c.comparator, c.value, d);
      const a = sql.raw(`t${i}`);
      const { exists, comparator } = tagTest(c);
      return sql<boolean>`${exists} (select 1 from registered_model_tags ${a} where ${a}.workspace = m.workspace and ${a}.name = m.name and ${a}.key = ${c.identifier.key} and ${compare(sql.ref(`t${i}.value`), comparator, c.value, d)})`;
    });
    const orderBy = orders.map((o) => sql`${sql.ref(`m.${o.identifier.key === 'timestamp' ? 'last_updated_timestamp' : o.identifier.key}`)} ${sql.raw(o.ascending ? 'asc' : 'desc')}`);
    const { rows } = await sql<Selectable<RegisteredModelTable>>`
      select m.* from registered_models m where m.workspace = ${ws.name} and ${and(conditions)}
      order by ${sql.join([...orderBy, sql`m.name asc`])} limit ${req.maxResults + 1} offset ${offset}`.execute(this.#db);
    const page = paginate(rows, offset, req.maxResults);
    return { models: await this.#hydrateModels(ws, page.items), nextPageToken: page.nextPageToken };
  }

  async searchVersions(ws: Workspace, req: { filter?: string | undefined; orderBy?: string[] | undefined; maxResults: number; pageToken?: string | undefined }) {
    const { offset } = decodePageToken(req.pageToken);
    const clauses = parseFilter('model_versions', req.filter);
    const orders = parseOrderBys('model_versions', req.orderBy);
    const d = this.#database.dialect;
    const column: Record<string, string> = { name: 'name', run_id: 'run_id', source_path: 'source', version_number: 'version', current_stage: 'current_stage' };
    const driver = d === 'sqlite' ? await this.#tagDriver(ws, clauses) : undefined;
    const conditions = clauses.flatMap((c: Clause, i) => (i === driver ? [] : [c])).map((c: Clause, i) => {
      if (c.identifier.type === 'tag') {
        const a = sql.raw(`t${i}`);
        const { exists, comparator } = tagTest(c);
        return sql<boolean>`${exists} (select 1 from model_version_tags ${a} where ${a}.workspace = v.workspace and ${a}.name = v.name and ${a}.version = v.version and ${a}.key = ${c.identifier.key} and ${compare(sql.ref(`t${i}.value`), comparator, c.value, d)})`;
      }
      return compare(sql.ref(`v.${column[c.identifier.key] ?? c.identifier.key}`), c.comparator, c.value, d);
    });
    const orderBy = orders.map((o) => sql`${sql.ref(`v.${o.identifier.key === 'version_number' ? 'version' : o.identifier.key}`)} ${sql.raw(o.ascending ? 'asc' : 'desc')}`);
    let from = sql`model_versions v`;
    if (driver !== undefined) {
      const c = clauses[driver] as Clause;
      // CROSS JOIN fixes SQLite's join order: the tag index first, then versions by primary key.
      from = sql`model_version_tags dt cross join model_versions v on v.workspace = dt.workspace and v.name = dt.name and v.version = dt.version and dt.workspace = ${ws.name} and dt.key = ${c.identifier.key} and ${compare(sql.ref('dt.value'), c.comparator, c.value, d)}`;
    }
    const { rows } = await sql<Selectable<ModelVersionTable>>`
      select v.* from ${from} where v.workspace = ${ws.name} and ${and(conditions)}
      order by ${sql.join([...orderBy, sql`v.name asc`, sql`v.version desc`])} limit ${req.maxResults + 1} offset ${offset}`.execute(this.#db);
    const page = paginate(rows, offset, req.maxResults);
    return { versions: await this.#hydrateVersions(ws, page.items), nextPageToken: page.nextPageToken };
  }

  /**
   * SQLite: the most selective `tags.k = 'v'` clause, counted through the (workspace, key, value)
   * index, drives the search when it matches fewer versions than a cap; a name filter already
   * uses the primary key, so it needs no driver.
   */
  async #tagDriver(ws: Workspace, clauses: Clause[]): Promise<number | undefined> {
    if (clauses.some((c) => c.identifier.type === 'attribute' && c.identifier.key === 'name' && c.comparator === '=')) return undefined;
    let best: { index: number; count: number } | undefined;
    for (const [index, c] of clauses.entries()) {
      if (c.identifier.type !== 'tag' || c.comparator !== '=') continue;
      const cap = best ? best.count : 20_000;
      const { rows } = await sql<{ n: number }>`select count(*) as n from (select 1 as one from model_version_tags where workspace = ${ws.name} and key = ${c.identifier.key} and value = ${c.value.kind === 'string' ? c.value.value : ''} limit ${cap}) as candidates`.execute(this.#db);
      const count = Number(rows[0]?.n ?? cap);
      if (count < cap) best = { index, count };
    }
    return best?.index;
  }

  async countModels(workspace: string): Promise<number> {
    const row = await this.#db.selectFrom('registered_models').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace', '=', workspace).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Removes every registry row of one workspace (its files belong to runs and logged models). */
  async purgeWorkspace(workspace: string): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      for (const table of ['registered_model_aliases', 'model_version_tags', 'model_versions', 'registered_model_tags', 'registered_models'] as const) {
        await tx.deleteFrom(table).where('workspace', '=', workspace).execute();
      }
    });
  }

  async #hydrateVersions(ws: Workspace, rows: Selectable<ModelVersionTable>[]): Promise<ModelVersionView[]> {
    if (rows.length === 0) return [];
    const names = [...new Set(rows.map((r) => r.name))];
    const [tags, aliases] = await Promise.all([
      this.#db.selectFrom('model_version_tags').selectAll().where('workspace', '=', ws.name).where('name', 'in', names).execute(),
      this.#db.selectFrom('registered_model_aliases').selectAll().where('workspace', '=', ws.name).where('name', 'in', names).execute(),
    ]);
    return rows.map((r) => {
      const view: ModelVersionView = {
        name: r.name,
        version: String(r.version),
        creation_timestamp: Number(r.creation_timestamp),
        last_updated_timestamp: Number(r.last_updated_timestamp),
        current_stage: r.current_stage as Stage,
        source: r.source,
        status: r.status,
        tags: tags.filter((t) => t.name === r.name && Number(t.version) === Number(r.version)).map(({ key, value }) => ({ key, value })),
        aliases: aliases.filter((a) => a.name === r.name && Number(a.version) === Number(r.version)).map((a) => a.alias),
      };
      if (r.user_id) view.user_id = r.user_id;
      if (r.description !== null) view.description = r.description;
      if (r.run_id) view.run_id = r.run_id;
      if (r.status_message) view.status_message = r.status_message;
      if (r.run_link) view.run_link = r.run_link;
      if (r.model_id) view.model_id = r.model_id;
      if (r.model_type) view.model_type = r.model_type;
      if (r.archived) view.archived = true;
      if (r.lineage) view.lineage = JSON.parse(r.lineage) as unknown;
      return view;
    });
  }

  async #hydrateModels(ws: Workspace, rows: Selectable<RegisteredModelTable>[]): Promise<RegisteredModelView[]> {
    if (rows.length === 0) return [];
    const names = rows.map((r) => r.name);
    const [tags, aliases, versions] = await Promise.all([
      this.#db.selectFrom('registered_model_tags').selectAll().where('workspace', '=', ws.name).where('name', 'in', names).execute(),
      this.#db.selectFrom('registered_model_aliases').selectAll().where('workspace', '=', ws.name).where('name', 'in', names).execute(),
      this.#db.selectFrom('model_versions').selectAll().where('workspace', '=', ws.name).where('name', 'in', names).orderBy('version', 'desc').execute(),
    ]);
    // latest_versions: the newest version per stage, as MLflow reports it.
    const latest: Selectable<ModelVersionTable>[] = [];
    const seen = new Set<string>();
    for (const v of versions) {
      const key = `${v.name}\u0000${v.current_stage}`;
      if (!seen.has(key)) {
        seen.add(key);
        latest.push(v);
      }
    }
    const latestViews = await this.#hydrateVersions(ws, latest);
    return rows.map((r) => {
      const view: RegisteredModelView = {
        name: r.name,
        creation_timestamp: Number(r.creation_timestamp),
        last_updated_timestamp: Number(r.last_updated_timestamp),
        latest_versions: latestViews.filter((v) => v.name === r.name).sort((a, b) => Number(a.version) - Number(b.version)),
        tags: tags.filter((t) => t.name === r.name).map(({ key, value }) => ({ key, value })),
        aliases: aliases.filter((a) => a.name === r.name).map((a) => ({ alias: a.alias, version: String(a.version) })),
      };
      if (r.user_id) view.user_id = r.user_id;
      if (r.description !== null) view.description = r.description;
      return view;
    });
  }
}
