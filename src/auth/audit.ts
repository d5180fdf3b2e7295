import { invalid } from '../core/errors.js';
import { insertRows, type Database } from '../store/db.js';
import type { Selectable } from 'kysely';
import type { AuditTable } from '../store/schema.js';

export type AuditEntry = Omit<AuditTable, 'id'>;

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

  constructor(database: Database) {
    this.#database = database;
  }

  record(entry: AuditEntry): void {
    this.#buffer.push(entry);
    if (this.#buffer.length >= 500) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), 200);
  }

  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const rows = this.#buffer;
    this.#buffer = [];
    const columns = ['time', 'principal', 'workspace', 'action', 'resource', 'outcome', 'status', 'client_ip', 'request_id', 'method', 'path'] as const;
    this.#flushing = this.#flushing.then(() =>
      insertRows(this.#database.db, this.#database.dialect, 'audit_log', [...columns], rows.map((r) => columns.map((c) => r[c]))),
    );
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
