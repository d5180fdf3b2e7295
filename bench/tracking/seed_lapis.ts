import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { METRIC_KEYS, PARAM_KEYS, TAG_KEYS, type SeedRun } from './dataset.js';

/**
 * Bulk-writes seeded runs straight into a (stopped) Lapis server's SQLite file, row for row what
 * runs/create + runs/log-batch write through the API (schema: src/store/migrations.ts): a `runs`
 * row in workspace 'default' with the next run_key, the user's tags plus `mlflow.runName`,
 * params, metric points at step 0 and their `latest_metrics` rows.
 */
export function seedLapisSql(dbPath: string, experimentId: string, runs: readonly SeedRun[]): void {
  const db = new BetterSqlite3(dbPath);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const experiment = db.prepare('select artifact_location from experiments where experiment_id = ? and workspace = ?').get(Number(experimentId), 'default') as
      | { artifact_location: string }
      | undefined;
    if (!experiment) throw new Error(`experiment ${experimentId} not found in ${dbPath}`);
    const root = experiment.artifact_location.replace(/\/+$/, '');
    // run_key: the run's integer key in `metrics`, MAX + 1 as runs/create assigns it.
    const run = db.prepare(
      'insert into runs (run_uuid, run_key, workspace, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time) ' +
        "values (?, ?, 'default', ?, ?, 'bench', 'RUNNING', ?, null, 'active', ?, null)",
    );
    let runKey = (db.prepare('select coalesce(max(run_key), 0) as k from runs').get() as { k: number }).k;
    const tag = db.prepare('insert into tags (run_uuid, key, value) values (?, ?, ?)');
    const param = db.prepare('insert into params (run_uuid, key, value) values (?, ?, ?)');
    const metric = db.prepare('insert into metrics (run_key, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest) values (?, ?, 0, ?, ?, 0, null, null, null)');
    const latest = db.prepare('insert into latest_metrics (run_uuid, key, step, timestamp, value, is_nan) values (?, ?, 0, ?, ?, 0)');
    const expId = Number(experimentId);
    const insertAll = db.transaction((batch: readonly SeedRun[]) => {
      for (const r of batch) {
        const id = randomBytes(16).toString('hex');
        const key = ++runKey;
        run.run(id, key, expId, r.name, r.start, `${root}/${id}/artifacts`);
        TAG_KEYS.forEach((k, i) => tag.run(id, k, r.tags[i]));
        tag.run(id, 'mlflow.runName', r.name);
        PARAM_KEYS.forEach((k, i) => param.run(id, k, r.params[i]));
        METRIC_KEYS.forEach((k, i) => {
          metric.run(key, k, r.start, r.metrics[i]);
          latest.run(id, k, r.start, r.metrics[i]);
        });
      }
    });
    for (let i = 0; i < runs.length; i += 10_000) insertAll(runs.slice(i, i + 10_000));
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
