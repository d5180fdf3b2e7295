import { sql } from 'kysely';
import { now } from '../core/clock.js';
import { invalid, notFound } from '../core/errors.js';
import { newLoggedModelId } from '../core/ids.js';
import { decodePageToken, paginate } from '../core/pagination.js';
import { insertRows, type Database } from '../store/db.js';
import type { LoggedModelTable } from '../store/schema.js';
import type { Workspace } from '../workspaces/service.js';
import type { ExperimentService } from './experiments.js';
import { randomRunName } from './run-names.js';
import { jsonNumber, type JsonNumber } from './run-view.js';
import { parseFilter, type Clause } from './search/grammar.js';
import { and, compare } from './sql.js';
import { checkValueLength, describe, keyValues, LIMITS } from './validation.js';

/** MLflow 3 logged models: a model is an entity of its own, with artifacts beside the run's. */
const STATUSES = ['LOGGED_MODEL_STATUS_UNSPECIFIED', 'LOGGED_MODEL_PENDING', 'LOGGED_MODEL_READY', 'LOGGED_MODEL_UPLOAD_FAILED'] as const;

export interface LoggedModelView {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    creation_timestamp_ms: number;
    last_updated_timestamp_ms: number;
    artifact_uri: string;
    status: (typeof STATUSES)[number];
    status_message?: string;
    model_type?: string;
    source_run_id?: string;
    tags: { key: string; value: string }[];
    registrations: { name: string; version: string }[];
  };
  data: {
    params: { key: string; value: string }[];
    metrics: { key: string; value: JsonNumber; timestamp: number; step: number; run_id: string; model_id: string; dataset_name?: string; dataset_digest?: string }[];
  };
}

export function parseModelStatus(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < STATUSES.length) return value;
  const index = STATUSES.indexOf(String(value) as (typeof STATUSES)[number]);
  if (index < 0) throw invalid(`Invalid logged model status ${describe(value)}: use one of ${STATUSES.join(', ')}.`);
  return index;
}

export class LoggedModelService {
  readonly #database: Database;
  readonly #experiments: ExperimentService;

  constructor(database: Database, experiments: ExperimentService) {
    this.#database = database;
    this.#experiments = experiments;
  }

  async create(
    ws: Workspace,
    req: { experimentId: unknown; name?: unknown; modelType?: unknown; sourceRunId?: unknown; params?: unknown; tags?: unknown },
  ): Promise<LoggedModelView> {
    const experimentId = await this.#experiments.requireId(ws, req.experimentId, { active: true });
    const params = keyValues('Param', req.params);
    const tags = keyValues('Tag', req.tags);
    for (const p of params) checkValueLength('Param', p.key, p.value, LIMITS.paramValue);
    for (const t of tags) checkValueLength('Tag', t.key, t.value, LIMITS.runTagValue);
    const name = req.name === undefined || req.name === null || req.name === '' ? randomRunName() : String(req.name);
    const modelId = newLoggedModelId();
    const root = (await this.#experiments.artifactLocation(experimentId)).replace(/\/+$/, '');
    const t = now();
    const row: LoggedModelTable = {
      model_id: modelId,
      workspace: ws.name,
      experiment_id: experimentId,
      name,
      artifact_location: `${root}/models/${modelId}/artifacts`,
      creation_timestamp_ms: t,
      last_updated_timestamp_ms: t,
      status: 1,
      status_message: null,
      lifecycle_stage: 'active',
      model_type: typeof req.modelType === 'string' && req.modelType ? req.modelType : null,
      source_run_id: typeof req.sourceRunId === 'string' && req.sourceRunId ? req.sourceRunId : null,
    };
    await this.#database.db.transaction().execute(async (tx) => {
      await tx.insertInto('logged_models').values(row).execute();
      await insertRows(tx, this.#database.dialect, 'logged_model_params', ['model_id', 'key', 'value'], params.map((p) => [modelId, p.key, p.value]), { ignore: ['model_id', 'key'] });
      await insertRows(tx, this.#database.dialect, 'logged_model_tags', ['model_id', 'key', 'value'], tags.map((p) => [modelId, p.key, p.value]), { keys: ['model_id', 'key'], update: ['value'] });
    });
    return this.get(ws, modelId);
  }

  async #row(ws: Workspace, modelId: unknown, allowDeleted = false): Promise<LoggedModelTable> {
    if (typeof modelId !== 'string' || modelId === '') throw invalid(`Missing value for required parameter 'model_id'.`);
    const row = await this.#database.db.selectFrom('logged_models').selectAll().where('model_id', '=', modelId).where('workspace', '=', ws.name).executeTakeFirst();
    if (!row || (!allowDeleted && row.lifecycle_stage === 'deleted')) throw notFound(`Logged model with ID '${modelId}' not found.`);
    return row;
  }

  async get(ws: Workspace, modelId: unknown, allowDeleted = false): Promise<LoggedModelView> {
    return (await this.#hydrate([await this.#row(ws, modelId, allowDeleted)]))[0] as LoggedModelView;
  }

  async finalize(ws: Workspace, modelId: unknown, status: unknown): Promise<LoggedModelView> {
    const row = await this.#row(ws, modelId);
    const code = parseModelStatus(status);
    if (code !== 2 && code !== 3) throw invalid(`A logged model can only be finalized as LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.`);
    await this.#database.db.updateTable('logged_models').set({ status: code, last_updated_timestamp_ms: now() }).where('model_id', '=', row.model_id).execute();
    return this.get(ws, row.model_id);
  }

  async delete(ws: Workspace, modelId: unknown): Promise<void> {
    const row = await this.#row(ws, modelId);
    await this.#database.db.updateTable('logged_models').set({ lifecycle_stage: 'deleted', last_updated_timestamp_ms: now() }).where('model_id', '=', row.model_id).execute();
  }

  async setTags(ws: Workspace, modelId: unknown, rawTags: unknown): Promise<void> {
    const row = await this.#row(ws, modelId);
    const tags = keyValues('Tag', rawTags);
    for (const t of tags) checkValueLength('Tag', t.key, t.value, LIMITS.runTagValue);
    await insertRows(this.#database.db, this.#database.dialect, 'logged_model_tags', ['model_id', 'key', 'value'], tags.map((t) => [row.model_id, t.key, t.value]), {
      keys: ['model_id', 'key'],
      update: ['value'],
    });
  }

  async deleteTag(ws: Workspace, modelId: unknown, key: unknown): Promise<void> {
    const row = await this.#row(ws, modelId);
    if (typeof key !== 'string' || key === '') throw invalid(`Missing value for required parameter 'tag_key'.`);
    const res = await this.#database.db.deleteFrom('logged_model_tags').where('model_id', '=', row.model_id).where('key', '=', key).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw notFound(`No tag with key '${key}' on logged model '${row.model_id}'.`);
  }

  async logParams(ws: Workspace, modelId: unknown, rawParams: unknown): Promise<void> {
    const row = await this.#row(ws, modelId);
    const params = keyValues('Param', rawParams);
    for (const p of params) checkValueLength('Param', p.key, p.value, LIMITS.paramValue);
    await insertRows(this.#database.db, this.#database.dialect, 'logged_model_params', ['model_id', 'key', 'value'], params.map((p) => [row.model_id, p.key, p.value]), {
      keys: ['model_id', 'key'],
      update: ['value'],
    });
  }

  async search(
    ws: Workspace,
    req: { experimentIds: number[]; filter?: string | undefined; orderBy: { field_name?: unknown; ascending?: unknown }[]; maxResults: number; pageToken?: string | undefined },
  ): Promise<{ models: LoggedModelView[]; nextPageToken: string | undefined }> {
    const { offset } = decodePageToken(req.pageToken);
    const clauses = parseFilter('logged_models', req.filter);
    const d = this.#database.dialect;
    const conditions = clauses.map((c: Clause, i) => {
      const alias = sql.raw(`f${i}`);
      const value = sql.ref(`f${i}.value`);
      if (c.identifier.type === 'metric') {
        return sql<boolean>`exists (select 1 from logged_model_metrics ${alias} where ${alias}.model_id = m.model_id and ${alias}.key = ${c.identifier.key} and ${compare(value, c.comparator, c.value, d)})`;
      }
      if (c.identifier.type === 'param' || c.identifier.type === 'tag') {
        const table = sql.table(c.identifier.type === 'param' ? 'logged_model_params' : 'logged_model_tags');
        return sql<boolean>`exists (select 1 from ${table} ${alias} where ${alias}.model_id = m.model_id and ${alias}.key = ${c.identifier.key} and ${compare(value, c.comparator, c.value, d)})`;
      }
      const column = { creation_time: 'creation_timestamp_ms', creation_timestamp: 'creation_timestamp_ms', last_updated_timestamp: 'last_updated_timestamp_ms' }[c.identifier.key] ?? c.identifier.key;
      return compare(sql.ref(`m.${column}`), c.comparator, c.value, d);
    });
    const ORDERABLE: Record<string, string> = { name: 'name', model_id: 'model_id', creation_timestamp: 'creation_timestamp_ms', creation_time: 'creation_timestamp_ms', last_updated_timestamp: 'last_updated_timestamp_ms' };
    const orderBy = req.orderBy.map((o) => {
      const column = ORDERABLE[String(o.field_name)];
      if (!column) throw invalid(`Invalid order_by field ${describe(o.field_name)} for logged models: use one of ${Object.keys(ORDERABLE).join(', ')}.`);
      return sql`${sql.ref(`m.${column}`)} ${sql.raw(o.ascending === false ? 'desc' : 'asc')}`;
    });
    if (req.experimentIds.length === 0) return { models: [], nextPageToken: undefined };
    const { rows } = await sql<LoggedModelTable>`
      select m.* from logged_models m
      where m.workspace = ${ws.name} and m.lifecycle_stage = 'active'
        and m.experiment_id in (${sql.join(req.experimentIds)}) and ${and(conditions)}
      order by ${sql.join([...orderBy, sql`m.creation_timestamp_ms desc`, sql`m.model_id asc`])}
      limit ${req.maxResults + 1} offset ${offset}`.execute(this.#database.db);
    const page = paginate(rows, offset, req.maxResults);
    return { models: await this.#hydrate(page.items), nextPageToken: page.nextPageToken };
  }

  async #hydrate(rows: LoggedModelTable[]): Promise<LoggedModelView[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.model_id);
    const db = this.#database.db;
    const [params, tags, metrics] = await Promise.all([
      db.selectFrom('logged_model_params').selectAll().where('model_id', 'in', ids).execute(),
      db.selectFrom('logged_model_tags').selectAll().where('model_id', 'in', ids).execute(),
      db.selectFrom('logged_model_metrics').selectAll().where('model_id', 'in', ids).execute(),
    ]);
    return rows.map((r) => ({
      info: {
        model_id: r.model_id,
        experiment_id: String(r.experiment_id),
        name: r.name,
        creation_timestamp_ms: Number(r.creation_timestamp_ms),
        last_updated_timestamp_ms: Number(r.last_updated_timestamp_ms),
        artifact_uri: r.artifact_location,
        status: STATUSES[r.status] ?? 'LOGGED_MODEL_STATUS_UNSPECIFIED',
        ...(r.status_message ? { status_message: r.status_message } : {}),
        ...(r.model_type ? { model_type: r.model_type } : {}),
        ...(r.source_run_id ? { source_run_id: r.source_run_id } : {}),
        tags: tags.filter((t) => t.model_id === r.model_id).map(({ key, value }) => ({ key, value })),
        registrations: [],
      },
      data: {
        params: params.filter((p) => p.model_id === r.model_id).map(({ key, value }) => ({ key, value })),
        metrics: metrics
          .filter((m) => m.model_id === r.model_id)
          .map((m) => ({
            key: m.key,
            value: jsonNumber(m.value, m.is_nan),
            timestamp: Number(m.timestamp),
            step: Number(m.step),
            run_id: m.run_id,
            model_id: m.model_id,
            ...(m.dataset_name ? { dataset_name: m.dataset_name } : {}),
            ...(m.dataset_digest ? { dataset_digest: m.dataset_digest } : {}),
          })),
      },
    }));
  }

  /** The newest live logged model a run produced under a name (what `runs:/<run>/<name>` means in MLflow 3). */
  async findByRun(ws: Workspace, runId: string, name: string): Promise<LoggedModelView | undefined> {
    const row = await this.#database.db
      .selectFrom('logged_models')
      .selectAll()
      .where('workspace', '=', ws.name)
      .where('source_run_id', '=', runId)
      .where('name', '=', name)
      .where('lifecycle_stage', '=', 'active')
      .orderBy('creation_timestamp_ms', 'desc')
      .executeTakeFirst();
    return row ? (await this.#hydrate([row]))[0] : undefined;
  }

  /** The logged model's artifact root, for the artifact listing route. */
  async artifactLocation(ws: Workspace, modelId: unknown): Promise<string> {
    return (await this.#row(ws, modelId)).artifact_location;
  }
}
