/**
 * Serialised metric histories, kept while nothing is written to them. A chart or run page asks
 * for the same 100,000-step history again and again; serialising it each time costs far more
 * than sending it. Entries are dropped on every write to their (run, key) — this process is the
 * only writer — and the least recently used go first beyond the byte budget.
 */
export class HistoryCache {
  readonly #entries = new Map<string, string>();
  #bytes = 0;

  constructor(readonly budgetBytes = 64 * 1024 * 1024) {}

  static key(runId: string, metricKey: string): string {
    return `${runId}\u0000${metricKey}`;
  }

  get(key: string): string | undefined {
    const json = this.#entries.get(key);
    if (json !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, json);
    }
    return json;
  }

  set(key: string, json: string): void {
    // Small histories are cheap to rebuild; caching them would only churn the map.
    if (json.length < 64 * 1024 || json.length > this.budgetBytes / 4) return;
    this.invalidate(key);
    this.#entries.set(key, json);
    this.#bytes += json.length;
    for (const [oldest, value] of this.#entries) {
      if (this.#bytes <= this.budgetBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= value.length;
    }
  }

  invalidate(key: string): void {
    const json = this.#entries.get(key);
    if (json !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= json.length;
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }
}
