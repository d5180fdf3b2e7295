import BetterSqlite3 from 'better-sqlite3';
import type { SeedModel, SeedVersion } from './dataset.js';

/**
 * Bulk-writes the seeded registry straight into a (stopped) Lapis server's SQLite file, row for
 * row what registered-models/create + model-versions/create write through the API (schema:
 * src/store/migrations.ts, 0003_registry + 0004_assets): workspace 'default', stage 'None', status
 * 'READY', a plain URI source stored as its own storage_location, no run, user or description.
 */
export function seedLapisSql(dbPath: string, models: readonly SeedModel[], versions: readonly SeedVersion[]): void {
  const db = new BetterSqlite3(dbPath);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const columns = new Set((db.prepare('select name from pragma_table_info(?)').all('model_versions') as { name: string }[]).map((r) => r.name));
    for (const c of ['storage_location', 'model_type', 'archived', 'lineage']) {
      if (!columns.has(c)) throw new Error(`model_versions has no column ${c} in ${dbPath}: did the migrations run?`);
    }
    const model = db.prepare("insert into registered_models (workspace, name, creation_timestamp, last_updated_timestamp, description, user_id) values ('default', ?, ?, ?, null, null)");
    const version = db.prepare(
      'insert into model_versions (workspace, name, version, creation_timestamp, last_updated_timestamp, description, user_id, current_stage, source, storage_location, ' +
        "run_id, run_link, model_id, status, status_message, model_type, archived, lineage) values ('default', ?, ?, ?, ?, null, null, 'None', ?, ?, null, null, null, 'READY', null, null, 0, null)",
    );
    const tag = db.prepare("insert into model_version_tags (workspace, name, version, key, value) values ('default', ?, ?, ?, ?)");
    db.transaction(() => {
      for (const m of models) model.run(m.name, m.created, m.updated);
      for (const v of versions) {
        version.run(v.name, v.version, v.created, v.created, v.source, v.source);
        tag.run(v.name, v.version, 'stage', v.stage);
        tag.run(v.name, v.version, 'team', v.team);
        tag.run(v.name, v.version, 'ticket', v.ticket);
      }
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
