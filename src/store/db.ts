import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { LapisError } from '../core/errors.js';
import { migrationProvider } from './migrations.js';
import type { Schema } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';
export type Db = Kysely<Schema>;
export type Tx = Transaction<Schema>;

export interface Database {
  readonly db: Db;
  readonly dialect: Dialect;
  readonly uri: string;
  /**
   * SQLite only: the connection under Kysely, for hot paths that run one prepared statement many
   * times. Safe inside a Kysely transaction: the connection is single, and calls are synchronous.
   */
  readonly sqlite?: BetterSqlite3.Database;
  close(): Promise<void>;
}

/** Opens the metadata database named by URI and brings its schema to the latest migration. */
export async function openDatabase(uri: string): Promise<Database> {
  const { db, dialect, sqlite, stop } = uri.startsWith('sqlite:') ? openSqlite(uri) : openPostgres(uri);
  const database: Database = {
    db,
    dialect,
    uri,
    ...(sqlite ? { sqlite } : {}),
    close: async () => {
      await stop?.();
      await db.destroy();
    },
  };
  try {
    await migrate(database);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return database;
}

function sqlitePath(uri: string): string {
  // sqlite:///abs/path (three slashes + absolute path), like SQLAlchemy and MLflow.
  const path = decodeURIComponent(uri.replace(/^sqlite:\/\//, ''));
  if (path === '/:memory:' || path === ':memory:') return ':memory:';
  if (!path.startsWith('/')) {
    throw new LapisError('INVALID_ARGUMENT', `Invalid SQLite URI '${uri}': use sqlite:///absolute/path/to/lapis.db.`);
  }
  return path;
}

/**
 * Checkpoints the WAL from a worker thread on its own connection, so the request thread does not
 * stall copying pages back into the database file every ~1,000 pages, as SQLite's automatic
 * checkpoints make the committing write do. PASSIVE never blocks the writer; under constant writes
 * the WAL then never restarts, so past ~64 MB a RESTART makes the writer wait (its transactions
 * begin IMMEDIATE, so they wait in the busy handler rather than fail) and the WAL starts over.
 * CommonJS source: `eval` workers cannot be ES modules.
 */
const CHECKPOINTER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
const checkpoint = (mode) => { try { return db.pragma('wal_checkpoint(' + mode + ')')[0]; } catch { return undefined; } };
const timer = setInterval(() => {
  const r = checkpoint('PASSIVE');
  if (r && r.log > 16384) checkpoint('RESTART');
}, 250);
parentPort.on('message', () => { clearInterval(timer); checkpoint('TRUNCATE'); db.close(); process.exit(0); });
`;

function startCheckpointer(path: string, raw: BetterSqlite3.Database): () => Promise<void> {
  const worker = new Worker(CHECKPOINTER, { eval: true, workerData: { path, driver: createRequire(import.meta.url).resolve('better-sqlite3') } });
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  // If the worker cannot run, SQLite's own automatic checkpoints take over again.
  worker.once('error', () => raw.pragma('wal_autocheckpoint = 1000'));
  return async () => {
    worker.postMessage('stop');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
  };
}

function openSqlite(uri: string): { db: Db; dialect: Dialect; sqlite: BetterSqlite3.Database; stop?: () => Promise<void> } {
  const path = sqlitePath(uri);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const raw = new BetterSqlite3(path);
  // WAL lets readers proceed beside the one writer; the busy timeout covers other processes
  // (a CLI or a backup) touching the file; NORMAL sync is durable at checkpoints under WAL.
  raw.pragma('journal_mode = WAL');
  raw.pragma('busy_timeout = 10000');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('cache_size = -65536');
  // Reads of a large database go through the OS page cache without a copy per page.
  raw.pragma('mmap_size = 1073741824');
  raw.pragma('temp_store = MEMORY');
  // MLflow's LIKE is case-sensitive (ILIKE is the insensitive one); SQLite's LIKE is not by default.
  raw.pragma('case_sensitive_like = ON');
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
  if (path === ':memory:') return { db, dialect: 'sqlite', sqlite: raw };
  raw.pragma('wal_autocheckpoint = 0');
  raw.pragma('journal_size_limit = 67108864');
  return { db, dialect: 'sqlite', sqlite: raw, stop: startCheckpointer(path, raw) };
}

/**
 * Kysely prepares every query anew; on the hot paths (log-batch, search) preparing costs more than
 * running. A bounded cache keyed by SQL text removes that without changing Kysely's behaviour.
 */
function withStatementCache(raw: BetterSqlite3.Database): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const LIMIT = 512;
  return new Proxy(raw, {
    get(target, prop, receiver) {
      if (prop === 'prepare') {
        return (text: string) => {
          // Transactions take the write lock when they begin, so a busy database makes them wait
          // in the busy handler; a deferred one that read first would fail with SQLITE_BUSY.
          const source = text === 'begin' ? 'begin immediate' : text;
          let stmt = cache.get(source);
          if (stmt) {
            cache.delete(source);
          } else {
            stmt = target.prepare(source);
            if (cache.size >= LIMIT) cache.delete(cache.keys().next().value as string);
          }
          cache.set(source, stmt);
          return stmt;
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function openPostgres(uri: string): { db: Db; dialect: Dialect; sqlite?: undefined; stop?: undefined } {
  // BIGINT columns hold epoch-ms timestamps and ids; they fit a JS number exactly.
  pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
  const pool = new pg.Pool({ connectionString: uri.replace(/^postgres:/, 'postgresql:'), max: 10 });
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres' };
}

async function migrate(database: Database): Promise<void> {
  const migrator = new Migrator({ db: database.db, provider: migrationProvider(database.dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new LapisError('UNAVAILABLE', `Database migration ${failed} failed on ${redact(database.uri)}: ${(error as Error).message ?? String(error)}`);
  }
}

export function redact(uri: string): string {
  return uri.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}

/**
 * Multi-row INSERT in as few statements as the dialect's parameter limit allows. Built by hand
 * because compiling a 1,000-row insert through the query builder costs more than executing it.
 */
export async function insertRows<T extends keyof Schema & string>(
  db: Db | Tx,
  dialect: Dialect,
  table: T,
  columns: readonly (keyof Schema[T] & string)[],
  rows: readonly (readonly unknown[])[],
  onConflict: 'error' | { ignore: readonly string[] } | { update: readonly string[]; keys: readonly string[]; where?: string } = 'error',
): Promise<void> {
  if (rows.length === 0) return;
  const maxParams = dialect === 'sqlite' ? 32_000 : 60_000;
  const perStatement = Math.max(1, Math.floor(maxParams / columns.length));
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const row of chunk) {
      const marks: string[] = [];
      for (const v of row) {
        params.push(v);
        marks.push(dialect === 'postgres' ? `$${params.length}` : '?');
      }
      tuples.push(`(${marks.join(',')})`);
    }
    let text = `insert into ${table} (${columns.map(quote).join(',')}) values ${tuples.join(',')}`;
    if (onConflict !== 'error') {
      if ('ignore' in onConflict) {
        text += ` on conflict (${onConflict.ignore.map(quote).join(',')}) do nothing`;
      } else {
        const sets = onConflict.update.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(',');
        text += ` on conflict (${onConflict.keys.map(quote).join(',')}) do update set ${sets}`;
        if (onConflict.where) text += ` where ${onConflict.where}`;
      }
    }
    await db.executeQuery(CompiledQuery.raw(text, params));
  }
}

const quote = (identifier: string): string => `"${identifier}"`;
