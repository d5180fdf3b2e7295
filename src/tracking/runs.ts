import { randomUUID } from 'node:crypto';
import { now } from '../core/clock.js';
import { invalid, notFound } from '../core/errors.js';
import { newRunId, RUN_ID_PATTERN } from '../core/ids.js';
import type { Statement } from 'better-sqlite3';
import { sql } from 'kysely';
import { insertRows, type Database, type Tx } from '../store/db.js';
import type { RunTable } from '../store/schema.js';
import type { Workspace } from '../workspaces/service.js';
import type { ExperimentService } from './experiments.js';
import { randomRunName } from './run-names.js';
import { hydrateRuns, runInfo, type RunView } from './run-view.js';
import {
  checkKey,
  checkValueLength,
  describe,
  keyValues,
  LIMITS,
  metricValue,
  optionalInt,
  optionalString,
  requireInt,
} from './validation.js';

export const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface MetricInput {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  modelId?: string | undefined;
  datasetName?: string | undefined;
  datasetDigest?: string | undefined;
}

const RUN_NAME_TAG = 'mlflow.runName';
const USER_TAG = 'mlflow.user';
const LOG_MODEL_HISTORY_TAG = 'mlflow.log-model.history';

export function parseStatus(value: unknown): RunStatus | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const v = typeof value === 'number' ? RUN_STATUSES[value - 1] : String(value).toUpperCase();
  if (!v || !(RUN_STATUSES as readonly string[]).includes(v)) {
    throw invalid(`Invalid run status ${describe(value)}: use one of ${RUN_STATUSES.join(', ')}.`);
  }
  return v as RunStatus;
}

/** Parses one metric of a request (log-metric or log-batch) into a validated input. */
export function parseMetric(raw: unknown, index?: number, checkedKeys?: Set<string>): MetricInput {
  if (!raw || typeof raw !== 'object') throw invalid(`${index === undefined ? 'metric' : `metrics[${index}]`} must be an object with key, value, timestamp and step.`);
  const m = raw as Record<string, unknown>;
  // A batch repeats a few keys a thousand times: each distinct key is checked once. The common,
  // well-typed case is tested inline; messages are only built on the error path.
  const key = typeof m.key === 'string' && checkedKeys?.has(m.key) ? m.key : checkKey('Metric', m.key);
  checkedKeys?.add(key);
  if (m.value === undefined || m.value === null) throw invalid(`Missing value for required parameter 'value' of metric '${key}'.`);
  const value = typeof m.value === 'number' ? m.value : metricValue(key, m.value);
  const timestamp = typeof m.timestamp === 'number' && Number.isSafeInteger(m.timestamp) ? m.timestamp : requireInt(`timestamp' of metric '${key}`, m.timestamp);
  const step = m.step === undefined || m.step === null ? 0 : typeof m.step === 'number' && Number.isSafeInteger(m.step) ? m.step : (optionalInt(`step' of metric '${key}`, m.step) ?? 0);
  const metric: MetricInput = { key, value, timestamp, step };
  if (m.model_id !== undefined) metric.modelId = optionalString('model_id', m.model_id) || undefined;
  if (m.dataset_name !== undefined) metric.datasetName = optionalString('dataset_name', m.dataset_name) || undefined;
  if (m.dataset_digest !== undefined) metric.datasetDigest = optionalString('dataset_digest', m.dataset_digest) || undefined;
  return metric;
}

/** The columns of a `metrics` row, its primary key first. */
const METRIC_COLUMNS = ['run_key', 'key', 'step', 'timestamp', 'value', 'is_nan', 'model_id', 'dataset_name', 'dataset_digest'] as const;
/** Rows per statement run on SQLite, largest first; the last must be 1. */
const METRIC_CHUNKS = [100, 10, 1] as const;

/** The latest value per key wins by (step, timestamp, value), MLflow's order. */
const LATEST_WINS =
  'excluded.step > latest_metrics.step or (excluded.step = latest_metrics.step and (excluded.timestamp > latest_metrics.timestamp or ' +
  '(excluded.timestamp = latest_metrics.timestamp and excluded.value > latest_metrics.value)))';

export class RunService {
  readonly #database: Database;
  readonly #experiments: ExperimentService;

  constructor(database: Database, experiments: ExperimentService) {
    this.#database = database;
    this.#experiments = experiments;
  }

  async create(
    ws: Workspace,
    req: {
      experimentId: unknown;
      userId?: string | undefined;
      runName?: string | undefined;
      startTime?: number | undefined;
      tags: { key: string; value: string }[];
      /** A job's run: its id is the job name, and it waits SCHEDULED until the job runs. */
      job?: { runId: string; status: 'SCHEDULED' };
    },
  ): Promise<RunView> {
    const experimentId = await this.#experiments.requireId(ws, req.experimentId ?? '0', { active: true });
    for (const t of req.tags) checkValueLength('Tag', t.key, t.value, LIMITS.runTagValue);
    const tagName = req.tags.find((t) => t.key === RUN_NAME_TAG)?.value;
    if (req.runName && tagName && req.runName !== tagName) {
      throw invalid(`Both 'run_name' ('${req.runName}') and tag '${RUN_NAME_TAG}' ('${tagName}') were given with different values; pass one of them.`);
    }
    const name = req.runName || tagName || randomRunName();
    if (name.length > LIMITS.runName) throw invalid(`Run name is ${name.length} characters long; the limit is ${LIMITS.runName}.`);
    const userId = req.userId || req.tags.find((t) => t.key === USER_TAG)?.value || 'unknown';
    const runId = req.job?.runId ?? newRunId();
    const artifactRoot = await this.#experiments.artifactLocation(experimentId);
    const row: Omit<RunTable, 'run_key'> = {
      run_uuid: runId,
      workspace: ws.name,
      experiment_id: experimentId,
      name,
      user_id: userId,
      status: req.job?.status ?? 'RUNNING',
      start_time: req.startTime ?? now(),
      end_time: null,
      lifecycle_stage: 'active',
      artifact_uri: `${artifactRoot.replace(/\/+$/, '')}/${runId}/artifacts`,
      deleted_time: null,
    };
    const tags = [...req.tags.filter((t) => t.key !== RUN_NAME_TAG), { key: RUN_NAME_TAG, value: name }];
    await this.#database.db.transaction().execute(async (tx) => {
      // SQLite has one writer at a time, so MAX + 1 (read from the unique index) cannot collide;
      // PostgreSQL's column takes the next value of its sequence.
      const runKey = this.#database.dialect === 'sqlite' ? sql<number>`(select coalesce(max(run_key), 0) + 1 from runs)` : sql<number>`default`;
      await tx.insertInto('runs').values({ ...row, run_key: runKey }).execute();
      await insertRows(tx, this.#database.dialect, 'tags', ['run_uuid', 'key', 'value'], dedupeLast(tags).map((t) => [runId, t.key, t.value]));
    });
    return this.get(ws, runId);
  }

  async findRow(ws: Workspace, runId: unknown, db: Database['db'] | Tx = this.#database.db): Promise<RunTable> {
    if (typeof runId !== 'string' || runId === '') throw invalid(`Missing value for required parameter 'run_id'.`);
    // Shaped ids only: a malformed id cannot name a run, and refusing it early keeps it out of SQL.
    if (!RUN_ID_PATTERN.test(runId)) throw notFound(`Run with id=${runId} not found.`);
    const row = await db.selectFrom('runs').selectAll().where('run_uuid', '=', runId).where('workspace', '=', ws.name).executeTakeFirst();
    if (!row) throw notFound(`Run with id=${runId} not found.`);
    return row;
  }

  async #activeRow(ws: Workspace, runId: unknown, tx?: Tx): Promise<RunTable> {
    const row = await this.findRow(ws, runId, tx);
    if (row.lifecycle_stage !== 'active') {
      throw invalid(`The run ${row.run_uuid} must be in the 'active' state. Current state is ${row.lifecycle_stage}; restore it first.`);
    }
    return row;
  }

  async get(ws: Workspace, runId: unknown): Promise<RunView> {
    const row = await this.findRow(ws, runId);
    return (await hydrateRuns(this.#database.db, [row]))[0] as RunView;
  }

  async update(ws: Workspace, runId: unknown, req: { status?: RunStatus | undefined; endTime?: number | undefined; runName?: string | undefined }): Promise<RunView['info']> {
    const row = await this.#activeRow(ws, runId);
    const patch: Partial<RunTable> = {};
    if (req.status) patch.status = req.status;
    if (req.endTime !== undefined) patch.end_time = req.endTime;
    if (req.runName) {
      if (req.runName.length > LIMITS.runName) throw invalid(`Run name is ${req.runName.length} characters long; the limit is ${LIMITS.runName}.`);
      patch.name = req.runName;
    }
    await this.#database.db.transaction().execute(async (tx) => {
      if (Object.keys(patch).length > 0) await tx.updateTable('runs').set(patch).where('run_uuid', '=', row.run_uuid).execute();
      if (req.runName) await this.#upsertTags(tx, row.run_uuid, [{ key: RUN_NAME_TAG, value: req.runName }]);
    });
    return runInfo({ ...row, ...patch });
  }

  async setLifecycle(ws: Workspace, runId: unknown, stage: 'active' | 'deleted'): Promise<void> {
    const row = await this.findRow(ws, runId);
    if (stage === 'active') {
      const experiment = await this.#experiments.get(ws, String(row.experiment_id));
      if (experiment.lifecycle_stage !== 'active') {
        throw invalid(`Cannot restore run ${row.run_uuid}: its experiment ${experiment.experiment_id} is deleted. Restore the experiment first.`);
      }
    }
    await this.#database.db
      .updateTable('runs')
      .set({ lifecycle_stage: stage, deleted_time: stage === 'deleted' ? now() : null })
      .where('run_uuid', '=', row.run_uuid)
      .execute();
  }

  /**
   * log-batch with MLflow's semantics: params are write-once, tags overwrite, identical metric
   * points are no-ops. Everything is validated before the transaction, so a bad batch writes nothing.
   */
  async logBatch(ws: Workspace, runId: unknown, rawMetrics: unknown, rawParams: unknown, rawTags: unknown): Promise<void> {
    for (const [name, value] of [['metrics', rawMetrics], ['params', rawParams], ['tags', rawTags]] as const) {
      if (value !== undefined && value !== null && !Array.isArray(value)) throw invalid(`Parameter '${name}' must be a list.`);
    }
    const metricsIn = (rawMetrics as unknown[] | undefined) ?? [];
    const paramsIn = (rawParams as unknown[] | undefined) ?? [];
    const tagsIn = (rawTags as unknown[] | undefined) ?? [];
    const total = metricsIn.length + paramsIn.length + tagsIn.length;
    if (metricsIn.length > LIMITS.batchMetrics || paramsIn.length > LIMITS.batchParams || tagsIn.length > LIMITS.batchTags || total > LIMITS.batchEntities) {
      throw invalid(
        `A batch logging request can contain at most ${LIMITS.batchMetrics} metrics, ${LIMITS.batchParams} params, ${LIMITS.batchTags} tags and ${LIMITS.batchEntities} entities in total; ` +
          `got ${metricsIn.length} metrics, ${paramsIn.length} params and ${tagsIn.length} tags. Split it into several requests.`,
      );
    }
    const checkedKeys = new Set<string>();
    const metrics = metricsIn.map((m, i) => parseMetric(m, i, checkedKeys));
    const params = keyValues('Param', paramsIn);
    const tags = keyValues('Tag', tagsIn);
    for (const p of params) checkValueLength('Param', p.key, p.value, LIMITS.paramValue);
    for (const t of tags) if (t.key !== LOG_MODEL_HISTORY_TAG) checkValueLength('Tag', t.key, t.value, LIMITS.runTagValue);
    const seen = new Map<string, string>();
    for (const p of params) {
      const prior = seen.get(p.key);
      if (prior !== undefined && prior !== p.value) {
        throw invalid(`Duplicate parameter keys have been submitted: '${p.key}' is given twice with different values ('${prior}' and '${p.value}').`);
      }
      seen.set(p.key, p.value);
    }
    const written = await this.#database.db.transaction().execute(async (tx) => {
      const row = await this.#activeRow(ws, runId, tx);
      await this.#insertParams(tx, row.run_uuid, dedupeLast(params));
      if (tags.length > 0) await this.#upsertTags(tx, row.run_uuid, dedupeLast(tags));
      await this.#insertMetrics(tx, row, metrics);
      return row.run_uuid;
    });
    if (metrics.length > 0) this.onMetricsWritten?.(written, new Set(metrics.map((m) => m.key)));
  }

  async #insertParams(tx: Tx, runId: string, params: { key: string; value: string }[]): Promise<void> {
    if (params.length === 0) return;
    const existing = await tx
      .selectFrom('params')
      .select(['key', 'value'])
      .where('run_uuid', '=', runId)
      .where(
        'key',
        'in',
        params.map((p) => p.key),
      )
      .execute();
    const known = new Map(existing.map((p) => [p.key, p.value]));
    for (const p of params) {
      const old = known.get(p.key);
      if (old !== undefined && old !== p.value) {
        throw invalid(
          `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${old}' for run ID='${runId}'. Attempted logging new value '${p.value}'.`,
        );
      }
    }
    const fresh = params.filter((p) => !known.has(p.key));
    await insertRows(tx, this.#database.dialect, 'params', ['run_uuid', 'key', 'value'], fresh.map((p) => [runId, p.key, p.value]));
  }

  async #upsertTags(tx: Tx, runId: string, tags: { key: string; value: string }[]): Promise<void> {
    await insertRows(tx, this.#database.dialect, 'tags', ['run_uuid', 'key', 'value'], tags.map((t) => [runId, t.key, t.value]), {
      keys: ['run_uuid', 'key'],
      update: ['value'],
    });
    const renamed = tags.findLast((t) => t.key === RUN_NAME_TAG);
    if (renamed) await tx.updateTable('runs').set({ name: renamed.value }).where('run_uuid', '=', runId).execute();
  }

  async #insertMetrics(tx: Tx, run: RunTable, metrics: MetricInput[]): Promise<void> {
    if (metrics.length === 0) return;
    const runId = run.run_uuid;
    const dialect = this.#database.dialect;
    // History rows carry the run's integer key; latest_metrics rows its run id (see migration 0007).
    const rows = metrics.map((m) => {
      const isNan = Number.isNaN(m.value) ? 1 : 0;
      return [run.run_key, m.key, m.step, m.timestamp, isNan ? 0 : m.value, isNan, m.modelId ?? null, m.datasetName ?? null, m.datasetDigest ?? null];
    });
    const latest = new Map<string, (typeof rows)[number]>();
    for (const r of rows) {
      const prev = latest.get(r[1] as string);
      if (!prev || newer(r, prev)) latest.set(r[1] as string, r);
    }
    const latestRows = [...latest.values()].map((r) => [runId, ...r.slice(1, 6)]);
    if (this.#database.sqlite) {
      // SQLite hot path: cached multi-row INSERTs of 100, 10 and 1 rows. A statement run costs about
      // as much in the driver as inserting a row, so 10 runs instead of 1,000 are ~35% faster
      // (micro-benchmark), and cached statements are not re-parsed as a fresh 1,000-row VALUES list
      // would be. Without model or dataset fields the rows leave those columns out (fewer binds).
      const raw = this.#database.sqlite;
      const width = rows.some((r) => r[6] !== null || r[7] !== null || r[8] !== null) ? 9 : 6;
      let i = 0;
      for (const size of METRIC_CHUNKS) {
        if (rows.length - i < size) continue;
        const stmt = this.#insertMetricsStatement(raw, size, width);
        const params = new Array<unknown>(size * width);
        for (; i + size <= rows.length; i += size) {
          for (let j = 0; j < size; j++) {
            const r = rows[i + j] as unknown[];
            for (let c = 0; c < width; c++) params[j * width + c] = r[c];
          }
          stmt.run(params);
        }
      }
      this.#upsertLatest ??= raw.prepare(
        'insert into latest_metrics (run_uuid, key, step, timestamp, value, is_nan) values (?, ?, ?, ?, ?, ?) ' +
          `on conflict (run_uuid, key) do update set step = excluded.step, timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan where ${LATEST_WINS}`,
      );
      for (const r of latestRows) this.#upsertLatest.run(r);
    } else {
      await insertRows(tx, dialect, 'metrics', METRIC_COLUMNS, rows, { ignore: METRIC_COLUMNS.slice(0, 6) });
      await insertRows(tx, dialect, 'latest_metrics', ['run_uuid', 'key', 'step', 'timestamp', 'value', 'is_nan'], latestRows, {
        keys: ['run_uuid', 'key'],
        update: ['step', 'timestamp', 'value', 'is_nan'],
        where: LATEST_WINS,
      });
    }
    const modelRows = metrics.filter((m) => m.modelId);
    if (modelRows.length > 0) {
      // A metric may only be attached to a logged model of the run's own workspace.
      const ids = [...new Set(modelRows.map((m) => m.modelId as string))];
      const own = await tx.selectFrom('logged_models').select('model_id').where('model_id', 'in', ids).where('workspace', '=', run.workspace).execute();
      const missing = ids.filter((id) => !own.some((o) => o.model_id === id));
      if (missing.length > 0) throw notFound(`Logged model with ID '${missing[0]}' not found.`);
      await insertRows(
        tx,
        dialect,
        'logged_model_metrics',
        ['model_id', 'key', 'step', 'timestamp', 'value', 'is_nan', 'run_id', 'dataset_name', 'dataset_digest'],
        modelRows.map((m) => {
          const isNan = Number.isNaN(m.value) ? 1 : 0;
          return [m.modelId, m.key, m.step, m.timestamp, isNan ? 0 : m.value, isNan, runId, m.datasetName ?? null, m.datasetDigest ?? null];
        }),
        { ignore: ['model_id', 'key', 'step', 'timestamp', 'run_id'] },
      );
    }
  }

  /** Told after each committed metric write, so caches of those histories can be dropped. */
  onMetricsWritten: ((runId: string, keys: Set<string>) => void) | undefined;

  #upsertLatest: Statement | undefined;
  readonly #insertMetricStatements = new Map<number, Statement>();

  /** `insert into metrics … values (…), (…), …` of `size` rows of the first `width` columns, prepared once. */
  #insertMetricsStatement(raw: NonNullable<Database['sqlite']>, size: number, width: number): Statement {
    const id = size * 16 + width;
    let stmt = this.#insertMetricStatements.get(id);
    if (!stmt) {
      const columns = METRIC_COLUMNS.slice(0, width).join(', ');
      const tuple = `(${new Array(width).fill('?').join(', ')})`;
      stmt = raw.prepare(`insert into metrics (${columns}) values ${new Array(size).fill(tuple).join(', ')} on conflict (${METRIC_COLUMNS.slice(0, 6).join(', ')}) do nothing`);
      this.#insertMetricStatements.set(id, stmt);
    }
    return stmt;
  }

  async setTag(ws: Workspace, runId: unknown, key: unknown, value: unknown): Promise<void> {
    await this.logBatch(ws, runId, [], [], [{ key, value: value ?? '' }]);
  }

  async deleteTag(ws: Workspace, runId: unknown, key: unknown): Promise<void> {
    const row = await this.#activeRow(ws, runId);
    const k = checkKey('Tag', key);
    const res = await this.#database.db.deleteFrom('tags').where('run_uuid', '=', row.run_uuid).where('key', '=', k).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw notFound(`No tag with name: ${k} in run with id ${row.run_uuid}.`);
  }

  async logInputs(ws: Workspace, runId: unknown, rawDatasets: unknown, rawModels: unknown): Promise<void> {
    if (rawDatasets !== undefined && rawDatasets !== null && !Array.isArray(rawDatasets)) throw invalid(`Parameter 'datasets' must be a list.`);
    if (rawModels !== undefined && rawModels !== null && !Array.isArray(rawModels)) throw invalid(`Parameter 'models' must be a list.`);
    const datasets = ((rawDatasets as unknown[] | undefined) ?? []).map(parseDatasetInput);
    const models = ((rawModels as unknown[] | undefined) ?? []).map((m, i) => {
      const id = (m as { model_id?: unknown } | null)?.model_id;
      if (typeof id !== 'string' || id === '') throw invalid(`models[${i}].model_id is required.`);
      return id;
    });
    await this.#database.db.transaction().execute(async (tx) => {
      const row = await this.#activeRow(ws, runId, tx);
      for (const d of datasets) {
        const found = await tx
          .selectFrom('datasets')
          .select('dataset_uuid')
          .where('experiment_id', '=', row.experiment_id)
          .where('name', '=', d.dataset.name)
          .where('digest', '=', d.dataset.digest)
          .executeTakeFirst();
        const datasetUuid = found?.dataset_uuid ?? randomUUID();
        if (!found) {
          await tx
            .insertInto('datasets')
            .values({ dataset_uuid: datasetUuid, experiment_id: row.experiment_id, ...d.dataset, schema: d.dataset.schema ?? null, profile: d.dataset.profile ?? null })
            .execute();
        }
        const input = await tx.selectFrom('run_inputs').select('input_uuid').where('run_uuid', '=', row.run_uuid).where('dataset_uuid', '=', datasetUuid).executeTakeFirst();
        if (input) continue; // The same dataset logged twice to a run is recorded once, as in MLflow.
        const inputUuid = randomUUID();
        await tx.insertInto('run_inputs').values({ input_uuid: inputUuid, run_uuid: row.run_uuid, dataset_uuid: datasetUuid }).execute();
        await insertRows(tx, this.#database.dialect, 'input_tags', ['input_uuid', 'key', 'value'], dedupeLast(d.tags).map((t) => [inputUuid, t.key, t.value]));
      }
      await insertRows(tx, this.#database.dialect, 'run_models', ['run_uuid', 'model_id', 'direction', 'step'], models.map((id) => [row.run_uuid, id, 'input', 0]), {
        ignore: ['run_uuid', 'model_id', 'direction'],
      });
    });
  }

  async logOutputs(ws: Workspace, runId: unknown, rawModels: unknown): Promise<void> {
    if (!Array.isArray(rawModels)) throw invalid(`Parameter 'models' must be a list of {model_id, step}.`);
    const models = rawModels.map((m: unknown, i) => {
      const entry = m as { model_id?: unknown; step?: unknown } | null;
      if (typeof entry?.model_id !== 'string' || entry.model_id === '') throw invalid(`models[${i}].model_id is required.`);
      return { id: entry.model_id, step: optionalInt(`models[${i}].step`, entry.step) ?? 0 };
    });
    const row = await this.#activeRow(ws, runId);
    await insertRows(this.#database.db, this.#database.dialect, 'run_models', ['run_uuid', 'model_id', 'direction', 'step'], models.map((m) => [row.run_uuid, m.id, 'output', m.step]), {
      keys: ['run_uuid', 'model_id', 'direction'],
      update: ['step'],
    });
  }

  /** runs/log-model appends the MLmodel description to the run's `mlflow.log-model.history` tag. */
  async logModel(ws: Workspace, runId: unknown, modelJson: unknown): Promise<void> {
    if (typeof modelJson !== 'string' || modelJson === '') throw invalid(`Missing value for required parameter 'model_json'.`);
    let model: Record<string, unknown>;
    try {
      model = JSON.parse(modelJson) as Record<string, unknown>;
    } catch {
      throw invalid(`Malformed model info: 'model_json' must be a JSON object (the MLmodel file as JSON).`);
    }
    if (!model || typeof model !== 'object' || Array.isArray(model)) throw invalid(`Malformed model info: 'model_json' must be a JSON object.`);
    const missing = ['artifact_path', 'flavors', 'utc_time_created', 'run_id'].filter((k) => !(k in model));
    if (missing.length > 0) throw invalid(`Model json is missing mandatory fields: ${missing.join(', ')}.`);
    await this.#database.db.transaction().execute(async (tx) => {
      const row = await this.#activeRow(ws, runId, tx);
      const current = await tx.selectFrom('tags').select('value').where('run_uuid', '=', row.run_uuid).where('key', '=', LOG_MODEL_HISTORY_TAG).executeTakeFirst();
      const history = current ? (JSON.parse(current.value) as unknown[]) : [];
      // MLflow keeps the history compact: the flavors' bulky contents stay in the MLmodel file.
      history.push(model);
      await this.#upsertTags(tx, row.run_uuid, [{ key: LOG_MODEL_HISTORY_TAG, value: JSON.stringify(history) }]);
    });
  }
}

function newer(a: readonly unknown[], b: readonly unknown[]): boolean {
  const [as, at, av] = [a[2] as number, a[3] as number, a[4] as number];
  const [bs, bt, bv] = [b[2] as number, b[3] as number, b[4] as number];
  return as > bs || (as === bs && (at > bt || (at === bt && av > bv)));
}

/** Later entries win for the same key: a batch's order is its meaning for tags. */
function dedupeLast<T extends { key: string }>(items: T[]): T[] {
  return [...new Map(items.map((i) => [i.key, i])).values()];
}

function parseDatasetInput(raw: unknown, i: number): { tags: { key: string; value: string }[]; dataset: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string } } {
  const entry = raw as { tags?: unknown; dataset?: Record<string, unknown> } | null;
  const d = entry?.dataset;
  if (!d || typeof d !== 'object') throw invalid(`datasets[${i}].dataset is required.`);
  const field = (name: string, limit: number, required: boolean): string | undefined => {
    const v = d[name];
    if (v === undefined || v === null || v === '') {
      if (required) throw invalid(`datasets[${i}].dataset.${name} is required.`);
      return undefined;
    }
    if (typeof v !== 'string') throw invalid(`datasets[${i}].dataset.${name} must be a string.`);
    if (v.length > limit) throw invalid(`datasets[${i}].dataset.${name} is ${v.length} characters long; the limit is ${limit}.`);
    return v;
  };
  const tags = keyValues('Input tag', entry?.tags ?? []);
  for (const t of tags) {
    if (t.key.length > LIMITS.inputTagKey) throw invalid(`Input tag key '${t.key.slice(0, 40)}…' is longer than ${LIMITS.inputTagKey} characters.`);
    checkValueLength('Input tag', t.key, t.value, LIMITS.inputTagValue);
  }
  const schema = field('schema', LIMITS.datasetSchema, false);
  const profile = field('profile', LIMITS.datasetProfile, false);
  return {
    tags,
    dataset: {
      name: field('name', LIMITS.datasetName, true) as string,
      digest: field('digest', LIMITS.datasetDigest, true) as string,
      source_type: field('source_type', 500, true) as string,
      source: field('source', LIMITS.datasetSource, true) as string,
      ...(schema === undefined ? {} : { schema }),
      ...(profile === undefined ? {} : { profile }),
    },
  };
}
