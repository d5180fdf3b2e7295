import type { Db } from '../store/db.js';
import type { RunTable } from '../store/schema.js';

/** The MLflow JSON shape of a run, as every surface returns it. */
export interface RunView {
  info: {
    run_id: string;
    run_uuid: string;
    run_name: string;
    experiment_id: string;
    user_id: string;
    status: string;
    start_time: number;
    end_time?: number;
    artifact_uri: string;
    lifecycle_stage: string;
  };
  data: {
    metrics: MetricView[];
    params: { key: string; value: string }[];
    tags: { key: string; value: string }[];
  };
  inputs: {
    dataset_inputs: { tags: { key: string; value: string }[]; dataset: DatasetView }[];
    model_inputs: { model_id: string }[];
  };
  outputs: { model_outputs: { model_id: string; step: number }[] };
}

export interface DatasetView {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}

/** Metric values leave the server as MLflow's proto-JSON writes doubles: NaN/±Inf as strings. */
export type JsonNumber = number | 'NaN' | 'Infinity' | '-Infinity';
export interface MetricView {
  key: string;
  value: JsonNumber;
  timestamp: number;
  step: number;
}

export function jsonNumber(value: number, isNan = 0): JsonNumber {
  if (isNan || Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

export function runInfo(row: RunTable): RunView['info'] {
  const info: RunView['info'] = {
    run_id: row.run_uuid,
    run_uuid: row.run_uuid,
    run_name: row.name,
    experiment_id: String(row.experiment_id),
    user_id: row.user_id,
    status: row.status,
    start_time: Number(row.start_time),
    artifact_uri: row.artifact_uri,
    lifecycle_stage: row.lifecycle_stage,
  };
  if (row.end_time !== null && row.end_time !== undefined) info.end_time = Number(row.end_time);
  return info;
}

const CHUNK = 500;

async function inChunks<T>(ids: string[], fetch: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) out.push(...(await fetch(ids.slice(i, i + CHUNK))));
  return out;
}

function group<T extends { run_uuid: string }>(rows: T[]): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const row of rows) {
    const list = map.get(row.run_uuid);
    if (list) list.push(row);
    else map.set(row.run_uuid, [row]);
  }
  return map;
}

/** Loads the data of many runs with a fixed number of queries per 500 runs (no N+1). */
export async function hydrateRuns(db: Db, rows: RunTable[]): Promise<RunView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.run_uuid);
  const [metrics, params, tags, inputs, models] = await Promise.all([
    inChunks(ids, (c) => db.selectFrom('latest_metrics').select(['run_uuid', 'key', 'value', 'timestamp', 'step', 'is_nan']).where('run_uuid', 'in', c).execute()),
    inChunks(ids, (c) => db.selectFrom('params').select(['run_uuid', 'key', 'value']).where('run_uuid', 'in', c).execute()),
    inChunks(ids, (c) => db.selectFrom('tags').select(['run_uuid', 'key', 'value']).where('run_uuid', 'in', c).execute()),
    inChunks(ids, (c) =>
      db
        .selectFrom('run_inputs as i')
        .innerJoin('datasets as d', 'd.dataset_uuid', 'i.dataset_uuid')
        .select(['i.run_uuid', 'i.input_uuid', 'd.name', 'd.digest', 'd.source_type', 'd.source', 'd.schema', 'd.profile'])
        .where('i.run_uuid', 'in', c)
        .execute(),
    ),
    inChunks(ids, (c) => db.selectFrom('run_models').select(['run_uuid', 'model_id', 'direction', 'step']).where('run_uuid', 'in', c).execute()),
  ]);
  const inputTags = await inChunks(
    inputs.map((i) => i.input_uuid),
    (c) => db.selectFrom('input_tags').select(['input_uuid as run_uuid', 'key', 'value']).where('input_uuid', 'in', c).execute(),
  );
  const byMetric = group(metrics);
  const byParam = group(params);
  const byTag = group(tags);
  const byInput = group(inputs);
  const byInputTag = group(inputTags);
  const byModel = group(models);
  return rows.map((row) => {
    const runModels = byModel.get(row.run_uuid) ?? [];
    return {
      info: runInfo(row),
      data: {
        metrics: (byMetric.get(row.run_uuid) ?? []).map((m) => ({ key: m.key, value: jsonNumber(m.value, m.is_nan), timestamp: Number(m.timestamp), step: Number(m.step) })),
        params: (byParam.get(row.run_uuid) ?? []).map(({ key, value }) => ({ key, value })),
        tags: (byTag.get(row.run_uuid) ?? []).map(({ key, value }) => ({ key, value })),
      },
      inputs: {
        dataset_inputs: (byInput.get(row.run_uuid) ?? []).map((i) => ({
          tags: (byInputTag.get(i.input_uuid) ?? []).map(({ key, value }) => ({ key, value })),
          dataset: {
            name: i.name,
            digest: i.digest,
            source_type: i.source_type,
            source: i.source,
            ...(i.schema === null ? {} : { schema: i.schema }),
            ...(i.profile === null ? {} : { profile: i.profile }),
          },
        })),
        model_inputs: runModels.filter((m) => m.direction === 'input').map((m) => ({ model_id: m.model_id })),
      },
      outputs: { model_outputs: runModels.filter((m) => m.direction === 'output').map((m) => ({ model_id: m.model_id, step: Number(m.step) })) },
    };
  });
}
