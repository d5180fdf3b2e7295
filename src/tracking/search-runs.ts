import { sql, type RawBuilder } from 'kysely';
import { decodePageToken, paginate } from '../core/pagination.js';
import type { Database } from '../store/db.js';
import type { RunTable } from '../store/schema.js';
import type { Workspace } from '../workspaces/service.js';
import { viewTypeStages, type ViewType } from './experiments.js';
import { hydrateRuns, type RunView } from './run-view.js';
import { parseFilter, parseOrderBys, type Clause, type OrderBy } from './search/grammar.js';
import { and, compare } from './sql.js';

export interface SearchRunsRequest {
  experimentIds: number[];
  filter?: string | undefined;
  orderBy?: string[] | undefined;
  viewType: ViewType;
  maxResults: number;
  pageToken?: string | undefined;
  /** Random access (native API): start at this row instead of a page token's position. */
  offset?: number | undefined;
  /** Also count every matching run. */
  includeTotal?: boolean | undefined;
}

const ATTRIBUTE_COLUMNS: Record<string, string> = {
  run_id: 'run_uuid',
  run_name: 'name',
  status: 'status',
  user_id: 'user_id',
  artifact_uri: 'artifact_uri',
  lifecycle_stage: 'lifecycle_stage',
  start_time: 'start_time',
  end_time: 'end_time',
  experiment_id: 'experiment_id',
};

/** The run columns that can be null: ordering puts their missing values last. */
const NULLABLE_ATTRIBUTES = new Set(['end_time', 'deleted_time']);

/**
 * Compiles a parsed filter to SQL over the run table. Metric conditions join `latest_metrics`
 * (indexed by key and value) so a search never reads metric histories.
 */
function clauseSql(c: Clause, i: number, db: Database): RawBuilder<boolean> {
  const { type, key } = c.identifier;
  const d = db.dialect;
  switch (type) {
    case 'metric':
      return sql<boolean>`exists (select 1 from latest_metrics f${sql.raw(String(i))} where f${sql.raw(String(i))}.run_uuid = r.run_uuid and f${sql.raw(String(i))}.key = ${key} and f${sql.raw(String(i))}.is_nan = 0 and ${compare(sql.ref(`f${i}.value`), c.comparator, c.value, d)})`;
    case 'param':
    case 'tag': {
      const table = type === 'param' ? 'params' : 'tags';
      return sql<boolean>`exists (select 1 from ${sql.table(table)} f${sql.raw(String(i))} where f${sql.raw(String(i))}.run_uuid = r.run_uuid and f${sql.raw(String(i))}.key = ${key} and ${compare(sql.ref(`f${i}.value`), c.comparator, c.value, d)})`;
    }
    case 'dataset': {
      const column = key === 'context' ? sql.ref('t.value') : sql.ref(`d.${key}`);
      const contextJoin = key === 'context' ? sql`join input_tags t on t.input_uuid = i.input_uuid and t.key = 'mlflow.data.context'` : sql``;
      return sql<boolean>`exists (select 1 from run_inputs i join datasets d on d.dataset_uuid = i.dataset_uuid ${contextJoin} where i.run_uuid = r.run_uuid and ${compare(column, c.comparator, c.value, d)})`;
    }
    default:
      return compare(sql.ref(`r.${ATTRIBUTE_COLUMNS[key] ?? key}`), c.comparator, c.value, d);
  }
}

/** ORDER BY pieces: missing and NaN values sort last whatever the direction, as in MLflow. */
function orderSql(o: OrderBy, i: number): { join: RawBuilder<unknown> | undefined; order: RawBuilder<unknown>[] } {
  const dir = sql.raw(o.ascending ? 'asc' : 'desc');
  const alias = sql.raw(`o${i}`);
  const { type, key } = o.identifier;
  if (type === 'attribute') {
    const name = ATTRIBUTE_COLUMNS[key] ?? key;
    const column = sql.ref(`r.${name}`);
    // Most columns are never null; for them the null test would keep SQLite from walking
    // the start_time index (the runs table's default order: 0.4 ms instead of 380 ms at 100,000 runs).
    return { join: undefined, order: NULLABLE_ATTRIBUTES.has(name) ? [sql`case when ${column} is null then 1 else 0 end`, sql`${column} ${dir}`] : [sql`${column} ${dir}`] };
  }
  if (type === 'metric') {
    return {
      join: sql`left join latest_metrics ${alias} on ${alias}.run_uuid = r.run_uuid and ${alias}.key = ${key}`,
      order: [sql`case when ${alias}.value is null or ${alias}.is_nan = 1 then 1 else 0 end`, sql`${alias}.value ${dir}`],
    };
  }
  const table = sql.table(type === 'param' ? 'params' : 'tags');
  return {
    join: sql`left join ${table} ${alias} on ${alias}.run_uuid = r.run_uuid and ${alias}.key = ${key}`,
    order: [sql`case when ${alias}.value is null then 1 else 0 end`, sql`${alias}.value ${dir}`],
  };
}

/** A clause that an index can answer by itself, so it can drive the search instead of the run table. */
function drivable(c: Clause): { table: 'latest_metrics' | 'params' | 'tags' } | undefined {
  const { type } = c.identifier;
  if (type === 'metric') return { table: 'latest_metrics' };
  if ((type === 'param' || type === 'tag') && (c.comparator === '=' || c.comparator === 'LIKE')) return { table: type === 'param' ? 'params' : 'tags' };
  return undefined;
}

const DRIVER_CAP = 20_000;

/**
 * Picks the most selective indexable clause to drive the query: walking 10,000 index entries of
 * `params.p = 'v'` beats probing 100,000 runs. Each candidate is counted through its covering
 * index, capped, which costs a few milliseconds; none under the cap means scanning runs is best.
 */
async function pickDriver(database: Database, clauses: Clause[]): Promise<number | undefined> {
  let best: { index: number; count: number } | undefined;
  // Equality on params/tags first: usually the most selective, and cheapest to count.
  const candidates = [...clauses.entries()].filter(([, c]) => drivable(c)).sort(([, a], [, b]) => Number(a.identifier.type === 'metric') - Number(b.identifier.type === 'metric'));
  for (const [index, c] of candidates) {
    const d = drivable(c) as { table: string };
    const nan = d.table === 'latest_metrics' ? sql` and is_nan = 0` : sql``;
    // Counting stops at the best count so far: a worse candidate costs no more than the best.
    const cap = best ? best.count : DRIVER_CAP;
    const { rows } = await sql<{ n: number }>`select count(*) as n from (select 1 as one from ${sql.table(d.table)} where key = ${c.identifier.key}${nan} and ${compare(sql.ref('value'), c.comparator, c.value, database.dialect)} limit ${cap}) as candidates`.execute(database.db);
    const count = Number(rows[0]?.n ?? cap);
    if (count < cap) best = { index, count };
  }
  return best?.index;
}

export async function searchRuns(database: Database, ws: Workspace, req: SearchRunsRequest): Promise<{ runs: RunView[]; nextPageToken: string | undefined; total?: number }> {
  const offset = req.offset ?? decodePageToken(req.pageToken).offset;
  const clauses = parseFilter('runs', req.filter);
  const orders = parseOrderBys('runs', req.orderBy);
  if (req.experimentIds.length === 0) return { runs: [], nextPageToken: undefined, ...(req.includeTotal ? { total: 0 } : {}) };
  // PostgreSQL's planner, with statistics, orders these joins itself; SQLite's needs the hint.
  const driverIndex = database.dialect === 'sqlite' ? await pickDriver(database, clauses) : undefined;
  let from = sql`runs r`;
  if (driverIndex !== undefined) {
    const c = clauses[driverIndex] as Clause;
    const table = (drivable(c) as { table: string }).table;
    const nan = table === 'latest_metrics' ? sql` and d.is_nan = 0` : sql``;
    // CROSS JOIN fixes the join order in SQLite: the driver's index first, then runs by primary key.
    from = sql`${sql.table(table)} d cross join runs r on r.run_uuid = d.run_uuid and d.key = ${c.identifier.key}${nan} and ${compare(sql.ref('d.value'), c.comparator, c.value, database.dialect)}`;
  }
  const conditions = clauses.flatMap((c, i) => (i === driverIndex ? [] : [clauseSql(c, i, database)]));
  const orderParts = orders.map((o, i) => orderSql(o, i));
  const joins = orderParts.flatMap((p) => (p.join ? [p.join] : []));
  const orderBy = [...orderParts.flatMap((p) => p.order), sql`r.start_time desc`, sql`r.run_uuid asc`];
  const stages = viewTypeStages(req.viewType);
  const where = sql`r.workspace = ${ws.name}
      and r.experiment_id in (${sql.join(req.experimentIds)})
      and r.lifecycle_stage in (${sql.join(stages)})
      and ${and(conditions)}`;
  const query = sql<RunTable>`
    select r.* from ${from} ${sql.join(joins, sql` `)}
    where ${where}
    order by ${sql.join(orderBy)}
    limit ${req.maxResults + 1} offset ${offset}`;
  const { rows } = await query.execute(database.db);
  const page = paginate(rows, offset, req.maxResults);
  const runs = await hydrateRuns(database.db, page.items);
  if (!req.includeTotal) return { runs, nextPageToken: page.nextPageToken };
  // The order joins are left joins on unique keys: they change no count, so the count skips them.
  // The workspace is checked through the experiments (a run lives in its experiment's workspace),
  // so an unfiltered count reads only the covering index (experiment_id, lifecycle_stage, …): 100,000
  // runs count in ~15 ms instead of ~165 ms of row lookups.
  const counted = await sql<{ n: number | string }>`select count(*) as n from ${from}
    where r.experiment_id in (${sql.join(req.experimentIds)})
      and r.experiment_id in (select experiment_id from experiments where workspace = ${ws.name})
      and r.lifecycle_stage in (${sql.join(stages)})
      and ${and(conditions)}`.execute(database.db);
  return { runs, nextPageToken: page.nextPageToken, total: Number(counted.rows[0]?.n ?? 0) };
}
