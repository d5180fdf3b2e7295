/**
 * Requests to one ONNX Runtime session that arrive while a run is in flight are scored together, in
 * one run, as soon as it ends. A tabular model's run costs ~20 µs of fixed overhead and next to
 * nothing per row, so under load a backlog drains many rows per run instead of one: the runtime
 * gets cheaper per request as it gets busier, which is what keeps its latency tail short when the
 * machine hiccups. No request ever waits for a timer: with nothing in flight, a request runs at once.
 *
 * A batch the session refuses (a text category one request's rows hold, say) is run again one
 * request at a time, so each request gets its own answer or its own error.
 */
import type { ParsedBody } from './onnx-payloads.js';

/** Scores the rows of a parsed body: one prediction per row. */
export type RunRows = (rows: ParsedBody) => Promise<unknown[]>;

export interface BatchAnswer {
  predictions: unknown[];
  /** 1 for the first request of a run, 0 for the others scored in it: summed, the runs. */
  runs: 0 | 1;
}

interface Waiting {
  parsed: ParsedBody;
  resolve: (answer: BatchAnswer) => void;
  reject: (err: unknown) => void;
}

export class RunBatcher {
  #running = false;
  #queue: Waiting[] = [];

  /** `maxRows`: a batch takes queued requests up to this many rows (a larger request runs alone). */
  constructor(
    readonly run: RunRows,
    readonly maxRows: number,
  ) {}

  score(parsed: ParsedBody): Promise<BatchAnswer> {
    // No rows: the session's own answer to that (an empty one, or its error), not a share of a batch.
    if (parsed.rows === 0) return this.#alone(parsed);
    return new Promise((resolve, reject) => {
      this.#queue.push({ parsed, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) await this.#runBatch(this.#take());
    } finally {
      this.#running = false;
    }
  }

  #take(): Waiting[] {
    let rows = 0;
    let n = 0;
    while (n < this.#queue.length) {
      const next = (this.#queue[n] as Waiting).parsed.rows;
      if (n > 0 && rows + next > this.maxRows) break;
      rows += next;
      n += 1;
    }
    return this.#queue.splice(0, n);
  }

  async #runBatch(batch: Waiting[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Waiting];
      await this.#alone(only.parsed).then(only.resolve, only.reject);
      return;
    }
    let predictions: unknown[] | undefined;
    try {
      predictions = await this.run(mergeRows(batch.map((w) => w.parsed)));
    } catch {
      predictions = undefined;
    }
    const total = batch.reduce((n, w) => n + w.parsed.rows, 0);
    if (predictions?.length !== total) {
      // Refused, or not one prediction per row: each request alone, for its own answer or error.
      for (const w of batch) await this.#alone(w.parsed).then(w.resolve, w.reject);
      return;
    }
    let at = 0;
    for (const w of batch) {
      w.resolve({ predictions: predictions.slice(at, at + w.parsed.rows), runs: at === 0 ? 1 : 0 });
      at += w.parsed.rows;
    }
  }

  #alone(parsed: ParsedBody): Promise<BatchAnswer> {
    return this.run(parsed).then((predictions) => ({ predictions, runs: 1 }));
  }
}

/** The rows of several parsed bodies, in order, as one. */
export function mergeRows(parts: readonly ParsedBody[]): ParsedBody {
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  const values = new Float64Array(parts.reduce((n, p) => n + p.values.length, 0));
  let at = 0;
  for (const p of parts) {
    values.set(p.values, at);
    at += p.values.length;
  }
  let text: Map<number, string[]> | null = null;
  if (parts[0]?.text) {
    text = new Map();
    for (const column of parts[0].text.keys()) text.set(column, parts.flatMap((p) => p.text?.get(column) ?? []));
  }
  return { rows, values, text, wrap: false };
}
