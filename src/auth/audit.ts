import { invalid } from '../core/errors.js';
import { insertRows, type Database } from '../store/db.js';
import type { Selectable } from 'kysely';
import type { AuditTable } from '../store/schema.js';

export type AuditEntry = Omit<AuditTable, 'id'>;

/** Column widths of audit_log; request metadata is attacker-chosen, so it is cut to fit. */
const WIDTH: Partial<Record<keyof AuditEntry, number>> = { principal: 128, workspace: 64, action: 128, outcome: 16, client_ip: 64, request_id: 64, method: 8, resource: 2000, path: 2000 };

function clean(entry: AuditEntry): AuditEntry {
  const out = { ...entry } as Record<string, unknown>;
  for (const [key, width] of Object.entries(WIDTH)) {
    const v = out[key];
    // PostgreSQL text cannot hold NUL; a NUL in a path or name is shown as U+FFFD instead.
    if (typeof v === 'string') out[key] = v.replace(/\0/g, '\uFFFD').slice(0, width);
  }
  return out as unknown as AuditEntry;
}

/**
 * The append-only audit log. Entries are buffered and written in one statement every 200 ms (or
 * at 500 rows, or on close) so auditing never adds a write per request to the hot paths. There is
 * no update or delete path: no API can alter a row.
 */
export class AuditLog {
  readonly #database: Database;
  #buffer: AuditEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  readonly #onError: (err: unknown) => void;

  constructor(database: Database, onError: (err: unknown) => void) {
    this.#database = database;
    this.#onError = onError;
  }

  record(entry: AuditEntry): void {
    this.#buffer.push(clean(entry));
    if (this.#buffer.length >= 500) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), 200);
  }

  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const rows = this.#buffer;
    this.#buffer = [];
    const columns = ['time', 'principal', 'workspace', 'action', 'resource', 'outcome', 'status', 'client_ip', 'request_id', 'method', 'path'] as const;
    if (rows.length === 0) return this.#flushing;
    // A failed write is reported, never thrown: flushes run from a timer, and losing the server
    // to an audit write would be worse than the lost rows, which the error log names.
    this.#flushing = this.#flushing
      .then(() => insertRows(this.#database.db, this.#database.dialect, 'audit_log', [...columns], rows.map((r) => columns.map((c) => r[c]))))
      .catch((err: unknown) => this.#onError(Object.assign(err as object, { lostAuditRows: rows.length })));
    await this.#flushing;
  }

  async list(q: { workspace?: string | undefined; since?: number | undefined; principal?: string | undefined; action?: string | undefined; limit: number }): Promise<Selectable<AuditTable>[]> {
    await this.flush();
    if (q.limit < 1 || q.limit > 10_000) throw invalid(`Invalid limit ${q.limit}: use 1 to 10000.`);
    let query = this.#database.db.selectFrom('audit_log').selectAll();
    if (q.workspace !== undefined) query = query.where('workspace', '=', q.workspace);
    if (q.since !== undefined) query = query.where('time', '>=', q.since);
    if (q.principal) query = query.where('principal', '=', q.principal);
    if (q.action) query = query.where('action', '=', q.action);
    return query.orderBy('id', 'desc').limit(q.limit).execute();
  }
}
