/**
 * Schema migrations on a database that already holds data: a database brought to 0006 and filled
 * with runs and metric histories in that schema is opened by the current code, which migrates it,
 * and then reads exactly the same histories, latest values and searches, and keeps logging.
 * On SQLite and PostgreSQL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/blobs/index.js';
import { openDatabase, type Database, type Dialect } from '../../src/store/db.js';
import { migrationProvider } from '../../src/store/migrations.js';
import { createTracking } from '../../src/tracking/index.js';
import type { Workspace } from '../../src/workspaces/service.js';
import { createTestDatabase } from '../support/server.js';

const WS: Workspace = { name: 'default', description: '', defaultExperimentId: 1, createdAt: 0 };
const T0 = 1_700_000_000_000;
const RUN_A = 'a'.repeat(32);
const RUN_B = 'b'.repeat(32);
const ORPHAN = 'c'.repeat(32);

/** Brings an empty database to 0006_jobs and writes two runs with histories in that schema. */
async function seedAt0006(dialect: Dialect, db: Kysely<unknown>): Promise<void> {
  const { error } = await new Migrator({ db, provider: migrationProvider(dialect) }).migrateTo('0006_jobs');
  if (error) throw error;
  await sql`insert into workspaces (name, description, default_experiment_id, created_at) values ('default', '', 1, 0)`.execute(db);
  await sql`insert into experiments (experiment_id, workspace, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
    values (1, 'default', 'Default', 'file:///tmp/a', 'active', 0, 0)`.execute(db);
  // B starts first, so it numbers first on SQLite (by start time); PostgreSQL numbers in its own order.
  for (const [id, start] of [[RUN_A, T0 + 1000], [RUN_B, T0]] as const) {
    await sql`insert into runs (run_uuid, workspace, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time)
      values (${id}, 'default', 1, ${`run-${id[0]}`}, 'u', 'RUNNING', ${start}, null, 'active', 'file:///tmp/a', null)`.execute(db);
  }
  const points: [string, string, number, number, number, number, string | null][] = [];
  for (let s = 0; s < 5; s++) {
    points.push([RUN_A, 'loss', s, T0 + s, 1 / (s + 1), 0, null]);
    points.push([RUN_B, 'loss', s, T0 + s, 10 + s, 0, null]);
  }
  points.push([RUN_A, 'loss', 5, T0 + 5, 0, 1, 'm-1']); // a NaN point, with a model id
  points.push([ORPHAN, 'loss', 0, T0, 3, 0, null]); // a point of no run: left behind
  for (const [run, key, step, ts, value, isNan, model] of points) {
    await sql`insert into metrics (run_uuid, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest)
      values (${run}, ${key}, ${step}, ${ts}, ${value}, ${isNan}, ${model}, null, null)`.execute(db);
  }
  await sql`insert into latest_metrics (run_uuid, key, step, timestamp, value, is_nan) values (${RUN_A}, 'loss', 5, ${T0 + 5}, 0, 1), (${RUN_B}, 'loss', 4, ${T0 + 4}, 14, 0)`.execute(db);
}

const BACKENDS = ['sqlite', 'postgres'] as const;

describe.each(BACKENDS)('migrations on %s with existing data', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function migratedDatabase(): Promise<Database> {
    let uri: string;
    let db: Kysely<unknown>;
    if (dialect === 'sqlite') {
      const dir = await mkdtemp(join(tmpdir(), 'lapis-migrations-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      uri = `sqlite:///${join(dir, 'lapis.db')}`;
      db = new Kysely({ dialect: new SqliteDialect({ database: new BetterSqlite3(join(dir, 'lapis.db')) }) });
    } else {
      uri = await createTestDatabase();
      db = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: uri }) }) });
    }
    try {
      await seedAt0006(dialect, db);
    } finally {
      await db.destroy();
    }
    const database = await openDatabase(uri);
    cleanups.push(() => database.close());
    return database;
  }

  it('0007 keys metric histories by an integer per run, keeping every point', async () => {
    const database = await migratedDatabase();
    const tracking = createTracking(database, undefined as unknown as BlobStore);
    const keys = await database.db.selectFrom('runs').select(['run_uuid', 'run_key']).orderBy('run_uuid').execute();
    expect(keys.map((k) => k.run_uuid)).toEqual([RUN_A, RUN_B]);
    expect(new Set(keys.map((k) => Number(k.run_key))).size).toBe(2);
    if (dialect === 'sqlite') expect(keys.map((k) => Number(k.run_key))).toEqual([2, 1]);

    const a = await tracking.metrics.history(WS, RUN_A, 'loss');
    expect(a.metrics).toEqual([...[0, 1, 2, 3, 4].map((s) => ({ key: 'loss', value: 1 / (s + 1), timestamp: T0 + s, step: s })), { key: 'loss', value: 'NaN', timestamp: T0 + 5, step: 5 }]);
    expect(JSON.parse(await tracking.metrics.historyJson(WS, RUN_B, 'loss'))).toEqual({ metrics: [0, 1, 2, 3, 4].map((s) => ({ key: 'loss', value: 10 + s, timestamp: T0 + s, step: s })) });
    const { count } = await database.db.selectFrom('metrics').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
    expect(Number(count)).toBe(11); // the orphan point is gone
    const model = await database.db.selectFrom('metrics').select('model_id').where('is_nan', '=', 1).executeTakeFirstOrThrow();
    expect(model.model_id).toBe('m-1');

    // Latest values and metric searches are untouched.
    expect((await tracking.runs.get(WS, RUN_B)).data.metrics).toEqual([{ key: 'loss', value: 14, timestamp: T0 + 4, step: 4 }]);
    const found = await tracking.searchRuns(WS, { experimentIds: [1], filter: 'metrics.loss > 1', orderBy: ['metrics.loss DESC'], viewType: 'ACTIVE_ONLY', maxResults: 10 });
    expect(found.runs.map((r) => r.info.run_id)).toEqual([RUN_B]);

    // A new run takes the next key; its history and the old ones stay apart.
    const c = await tracking.runs.create(WS, { experimentId: '1', tags: [] });
    const cKey = await database.db.selectFrom('runs').select('run_key').where('run_uuid', '=', c.info.run_id).executeTakeFirstOrThrow();
    expect(Number(cKey.run_key)).toBeGreaterThan(Math.max(...keys.map((k) => Number(k.run_key))));
    await tracking.runs.logBatch(WS, c.info.run_id, [{ key: 'loss', value: 7, timestamp: T0, step: 0 }], [], []);
    expect((await tracking.metrics.history(WS, c.info.run_id, 'loss')).metrics).toEqual([{ key: 'loss', value: 7, timestamp: T0, step: 0 }]);
    expect((await tracking.metrics.history(WS, RUN_A, 'loss')).metrics).toHaveLength(6);
  });
});
