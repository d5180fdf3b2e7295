import { sql } from 'kysely';
import { now } from '../core/clock.js';
import { alreadyExists, invalid, notFound } from '../core/errors.js';
import { decodePageToken, paginate } from '../core/pagination.js';
import type { Database, Tx } from '../store/db.js';
import type { Workspace } from '../workspaces/service.js';
import { parseFilter, parseOrderBys } from './search/grammar.js';
import { and, compare } from './sql.js';
import { checkKey, checkValueLength, LIMITS } from './validation.js';

export type LifecycleStage = 'active' | 'deleted';
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time: number;
  last_update_time: number;
  tags: { key: string; value: string }[];
}

export const DEFAULT_EXPERIMENT_NAME = 'Default';

export function viewTypeStages(viewType: ViewType): LifecycleStage[] {
  if (viewType === 'ACTIVE_ONLY') return ['active'];
  if (viewType === 'DELETED_ONLY') return ['deleted'];
  return ['active', 'deleted'];
}

export function parseViewType(name: string, value: unknown): ViewType {
  if (value === undefined || value === null || value === '') return 'ACTIVE_ONLY';
  const v = typeof value === 'number' ? (['', 'ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'][value] ?? '') : String(value).toUpperCase();
  if (v === 'ACTIVE_ONLY' || v === 'DELETED_ONLY' || v === 'ALL') return v;
  throw invalid(`Invalid ${name} ${JSON.stringify(value)}: use ACTIVE_ONLY, DELETED_ONLY or ALL.`);
}

/** The artifact root handed to clients: the proxy scheme, so every client goes through the server. */
export const experimentArtifactRoot = (id: number): string => `mlflow-artifacts:/${id}`;

export class ExperimentService {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** Creates a workspace's Default experiment; the default workspace's one is id 0, as in MLflow. */
  async provisionDefault(tx: Tx, workspace: string, isDefault: boolean): Promise<number> {
    return this.#insert(tx, workspace, DEFAULT_EXPERIMENT_NAME, undefined, isDefault ? 0 : undefined);
  }

  /** "0" means the workspace's Default experiment, whatever its stored id. */
  resolveId(ws: Workspace, raw: unknown): number {
    const text = typeof raw === 'number' ? String(raw) : raw;
    if (typeof text !== 'string' || text === '') throw invalid(`Missing value for required parameter 'experiment_id'.`);
    if (!/^\d{1,15}$/.test(text)) throw invalid(`Invalid experiment id '${text}': experiment ids are decimal numbers such as '0' or '12'.`);
    const id = Number(text);
    return id === 0 ? ws.defaultExperimentId : id;
  }

  async create(ws: Workspace, name: unknown, artifactLocation: unknown, tags: { key: string; value: string }[]): Promise<string> {
    const checked = checkExperimentName(name);
    if (artifactLocation !== undefined && artifactLocation !== null && artifactLocation !== '' && typeof artifactLocation !== 'string') {
      throw invalid(`Parameter 'artifact_location' must be a string URI.`);
    }
    for (const tag of tags) checkValueLength('Experiment tag', tag.key, tag.value, LIMITS.experimentTagValue);
    const existing = await this.#database.db
      .selectFrom('experiments')
      .select(['lifecycle_stage'])
      .where('workspace', '=', ws.name)
      .where('name', '=', checked)
      .executeTakeFirst();
    if (existing) {
      throw alreadyExists(
        existing.lifecycle_stage === 'deleted'
          ? `Experiment '${checked}' already exists in deleted state. Restore it, or permanently delete it before creating a new one with this name.`
          : `Experiment '${checked}' already exists.`,
      );
    }
    try {
      const id = await this.#database.db.transaction().execute(async (tx) => {
        const newId = await this.#insert(tx, ws.name, checked, (artifactLocation as string | undefined) || undefined);
        if (tags.length > 0) {
          await tx.insertInto('experiment_tags').values(tags.map((t) => ({ experiment_id: newId, key: t.key, value: t.value }))).execute();
        }
        return newId;
      });
      return String(id);
    } catch (err) {
      // Two clients calling set_experiment at once: the loser must see "already exists", which
      // the MLflow client handles, not an internal error.
      const code = (err as { code?: unknown }).code;
      if (code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE') throw alreadyExists(`Experiment '${checked}' already exists.`);
      throw err;
    }
  }

  async #insert(tx: Tx, workspace: string, name: string, artifactLocation: string | undefined, fixedId?: number): Promise<number> {
    const t = now();
    const row = await tx
      .insertInto('experiments')
      .values({
        ...(fixedId === undefined ? {} : { experiment_id: fixedId }),
        workspace,
        name,
        artifact_location: artifactLocation ?? '',
        lifecycle_stage: 'active',
        creation_time: t,
        last_update_time: t,
      })
      .returning('experiment_id')
      .executeTakeFirstOrThrow();
    const id = Number(row.experiment_id);
    if (!artifactLocation) {
      await tx.updateTable('experiments').set({ artifact_location: experimentArtifactRoot(id) }).where('experiment_id', '=', id).execute();
    }
    return id;
  }

  async get(ws: Workspace, rawId: unknown): Promise<Experiment> {
    const id = this.resolveId(ws, rawId);
    const row = await this.#database.db.selectFrom('experiments').selectAll().where('experiment_id', '=', id).where('workspace', '=', ws.name).executeTakeFirst();
    if (!row) throw notFound(`No Experiment with id=${String(rawId)} exists in workspace '${ws.name}'.`);
    return (await this.#hydrate([row]))[0] as Experiment;
  }

  async getByName(ws: Workspace, name: unknown): Promise<Experiment> {
    if (typeof name !== 'string' || name === '') throw invalid(`Missing value for required parameter 'experiment_name'.`);
    const row = await this.#database.db.selectFrom('experiments').selectAll().where('workspace', '=', ws.name).where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound(`Could not find experiment with name '${name}'.`);
    return (await this.#hydrate([row]))[0] as Experiment;
  }

  /** Returns the experiment's numeric id after checking it exists, is in the workspace and, if asked, is active. */
  async requireId(ws: Workspace, rawId: unknown, opts: { active?: boolean } = {}): Promise<number> {
    const id = this.resolveId(ws, rawId);
    const row = await this.#database.db
      .selectFrom('experiments')
      .select(['lifecycle_stage'])
      .where('experiment_id', '=', id)
      .where('workspace', '=', ws.name)
      .executeTakeFirst();
    if (!row) throw notFound(`No Experiment with id=${String(rawId)} exists in workspace '${ws.name}'.`);
    if (opts.active && row.lifecycle_stage !== 'active') {
      throw invalid(`The experiment ${String(rawId)} must be in the 'active' state. Current state is ${row.lifecycle_stage}; restore it first.`);
    }
    return id;
  }

  async artifactLocation(id: number): Promise<string> {
    const row = await this.#database.db.selectFrom('experiments').select('artifact_location').where('experiment_id', '=', id).executeTakeFirstOrThrow();
    return row.artifact_location;
  }

  async search(
    ws: Workspace,
    req: { filter?: string | undefined; orderBy?: string[] | undefined; viewType: ViewType; maxResults: number; pageToken?: string | undefined },
  ): Promise<{ experiments: Experiment[]; nextPageToken: string | undefined }> {
    const { offset } = decodePageToken(req.pageToken);
    const clauses = parseFilter('experiments', req.filter);
    const orders = parseOrderBys('experiments', req.orderBy);
    const dialect = this.#database.dialect;
    const conditions = clauses.map((c) => {
      if (c.identifier.type === 'tag') {
        return sql<boolean>`exists (select 1 from experiment_tags t where t.experiment_id = e.experiment_id and t.key = ${c.identifier.key} and ${compare(sql.ref('t.value'), c.comparator, c.value, dialect)})`;
      }
      return compare(sql.ref(`e.${c.identifier.key}`), c.comparator, c.value, dialect);
    });
    let query = this.#database.db
      .selectFrom('experiments as e')
      .selectAll()
      .where('e.workspace', '=', ws.name)
      .where('e.lifecycle_stage', 'in', viewTypeStages(req.viewType))
      .where(and(conditions));
    for (const o of orders) query = query.orderBy(sql.ref(`e.${o.identifier.key}`), o.ascending ? 'asc' : 'desc');
    const rows = await query.orderBy('e.experiment_id', 'desc').limit(req.maxResults + 1).offset(offset).execute();
    const page = paginate(rows, offset, req.maxResults);
    return { experiments: await this.#hydrate(page.items), nextPageToken: page.nextPageToken };
  }

  async rename(ws: Workspace, rawId: unknown, newName: unknown): Promise<void> {
    const id = await this.requireId(ws, rawId, { active: true });
    const checked = checkExperimentName(newName, 'new_name');
    const clash = await this.#database.db
      .selectFrom('experiments')
      .select('experiment_id')
      .where('workspace', '=', ws.name)
      .where('name', '=', checked)
      .where('experiment_id', '!=', id)
      .executeTakeFirst();
    if (clash) throw alreadyExists(`Experiment '${checked}' already exists.`);
    await this.#database.db.updateTable('experiments').set({ name: checked, last_update_time: now() }).where('experiment_id', '=', id).execute();
  }

  /** Deleting an experiment deletes its runs with it, and restoring restores them, as in MLflow. */
  async setLifecycle(ws: Workspace, rawId: unknown, stage: LifecycleStage): Promise<void> {
    const id = await this.requireId(ws, rawId);
    const t = now();
    await this.#database.db.transaction().execute(async (tx) => {
      await tx.updateTable('experiments').set({ lifecycle_stage: stage, last_update_time: t }).where('experiment_id', '=', id).execute();
      await tx
        .updateTable('runs')
        .set({ lifecycle_stage: stage, deleted_time: stage === 'deleted' ? t : null })
        .where('experiment_id', '=', id)
        .where('lifecycle_stage', '!=', stage)
        .execute();
    });
  }

  async setTag(ws: Workspace, rawId: unknown, key: unknown, value: unknown): Promise<void> {
    const id = await this.requireId(ws, rawId, { active: true });
    const k = checkKey('Experiment tag', key);
    const v = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
    checkValueLength('Experiment tag', k, v, LIMITS.experimentTagValue);
    await this.#database.db
      .insertInto('experiment_tags')
      .values({ experiment_id: id, key: k, value: v })
      .onConflict((oc) => oc.columns(['experiment_id', 'key']).doUpdateSet({ value: v }))
      .execute();
  }

  async deleteTag(ws: Workspace, rawId: unknown, key: unknown): Promise<void> {
    const id = await this.requireId(ws, rawId, { active: true });
    const k = checkKey('Experiment tag', key);
    const res = await this.#database.db.deleteFrom('experiment_tags').where('experiment_id', '=', id).where('key', '=', k).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw notFound(`No tag with name: ${k} in experiment ${String(rawId)}.`);
  }

  async #hydrate(
    rows: { experiment_id: number; name: string; artifact_location: string; lifecycle_stage: string; creation_time: number; last_update_time: number }[],
  ): Promise<Experiment[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => Number(r.experiment_id));
    const tags = await this.#database.db.selectFrom('experiment_tags').selectAll().where('experiment_id', 'in', ids).execute();
    const byExperiment = new Map<number, { key: string; value: string }[]>();
    for (const t of tags) {
      const list = byExperiment.get(Number(t.experiment_id)) ?? [];
      list.push({ key: t.key, value: t.value });
      byExperiment.set(Number(t.experiment_id), list);
    }
    return rows.map((r) => ({
      experiment_id: String(r.experiment_id),
      name: r.name,
      artifact_location: r.artifact_location,
      lifecycle_stage: r.lifecycle_stage as LifecycleStage,
      creation_time: Number(r.creation_time),
      last_update_time: Number(r.last_update_time),
      tags: byExperiment.get(Number(r.experiment_id)) ?? [],
    }));
  }
}

export function checkExperimentName(name: unknown, param = 'name'): string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw invalid(`Invalid experiment name ${JSON.stringify(name ?? null)} for parameter '${param}': use a non-empty string.`);
  }
  if (name.length > LIMITS.experimentName) throw invalid(`Experiment name is ${name.length} characters long; the limit is ${LIMITS.experimentName}.`);
  return name;
}
