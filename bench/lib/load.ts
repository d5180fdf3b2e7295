import type { HttpClient, HttpResult } from './http.js';

/** Nearest-rank percentile (p in 0..100) of a list of samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export interface LatencySummary {
  n: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  return {
    n: samples.length,
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    max: samples.length ? Math.max(...samples) : Number.NaN,
    mean: samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : Number.NaN,
  };
}

export interface Call {
  method: 'GET' | 'POST';
  path: string;
  body?: Buffer;
  /** Extra request headers (e.g. authorization); content-type defaults to JSON when there is a body. */
  headers?: Readonly<Record<string, string>>;
}

export interface ClosedLoopResult {
  wallMs: number;
  requests: number;
  errors: number;
  firstError?: string;
  latencies: number[];
  /** How many answers had each HTTP status (0: no answer). */
  statuses: Record<number, number>;
}

/**
 * Closed-loop load: one client per entry of `perClient`, each sending its calls one after the
 * other (a new request as soon as the previous answered), all clients at once. Errors are counted,
 * not retried, and the wall clock runs from the first send to the last answer.
 */
export async function closedLoop(http: HttpClient, perClient: readonly (readonly Call[])[]): Promise<ClosedLoopResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const statuses: Record<number, number> = {};
  const check = (call: Call, res: HttpResult): void => {
    latencies.push(res.ms);
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status < 200 || res.status >= 300) {
      errors++;
      firstError ??= `${call.path} -> HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`;
    }
  };
  const started = performance.now();
  await Promise.all(
    perClient.map(async (calls) => {
      for (const call of calls) {
        try {
          check(call, await http.request(call.method, call.path, call.body, undefined, call.headers));
        } catch (err) {
          errors++;
          statuses[0] = (statuses[0] ?? 0) + 1;
          firstError ??= `${call.path}: ${(err as Error).message}`;
        }
      }
    }),
  );
  const result: ClosedLoopResult = { wallMs: performance.now() - started, requests: perClient.reduce((n, c) => n + c.length, 0), errors, latencies, statuses };
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}

/** Runs `items` through `worker` with at most `concurrency` in flight; stops at the first failure. */
export async function pool<T>(items: readonly T[], concurrency: number, worker: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (failed === undefined && next < items.length) {
        const i = next++;
        try {
          await worker(items[i] as T, i);
        } catch (err) {
          failed ??= err;
        }
      }
    }),
  );
  if (failed !== undefined) throw failed;
}

export interface OpenLoopResult {
  /** The rate asked for and the one achieved (answers per second over the run). */
  targetRps: number;
  achievedRps: number;
  requests: number;
  errors: number;
  firstError?: string;
  /** From each request's send (its creation in the HTTP client, so waiting for a socket counts) to its answer. */
  latencies: number[];
  /** How late each request was sent after its scheduled time (the generator's timers), p99 and max, ms. */
  lateP99: number;
  lateMax: number;
  statuses: Record<number, number>;
}

/**
 * Open-loop load: `n` requests sent on a fixed schedule at `rps`, whether or not earlier ones have
 * answered, so a server that falls behind shows it in the percentiles instead of slowing the
 * generator down (no coordinated omission). The generator's timers fire up to a millisecond or so
 * late, sending what is due together; that lateness is its own and reported apart (`late*`).
 */
export async function openLoop(http: HttpClient, call: Call, rps: number, n: number): Promise<OpenLoopResult> {
  // Preallocated, and no promise kept per request: the generator's own garbage collection would
  // otherwise show up as the server's latency.
  const latencies = new Float64Array(n);
  const late = new Float64Array(n);
  let answered = 0;
  const statuses: Record<number, number> = {};
  let errors = 0;
  let firstError: string | undefined;
  let allAnswered: () => void = () => undefined;
  const done = new Promise<void>((r) => (allAnswered = r));
  const settle = (i: number, ms: number, status: number, error?: string): void => {
    latencies[i] = ms;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (error !== undefined) {
      errors++;
      firstError ??= error;
    }
    if (++answered === n) allAnswered();
  };
  const started = performance.now();
  for (let i = 0; i < n; ) {
    const due = started + (i * 1000) / rps;
    const now = performance.now();
    if (due > now) {
      await new Promise((r) => setTimeout(r, Math.max(0, Math.floor(due - now))));
      continue;
    }
    // Everything due by now goes out together: timers fire late under load.
    for (; i < n && started + (i * 1000) / rps <= performance.now(); i++) {
      const k = i;
      const sent = performance.now();
      late[k] = sent - (started + (k * 1000) / rps);
      http.request(call.method, call.path, call.body, 30_000, call.headers).then(
        (res) => settle(k, res.ms, res.status, res.status < 200 || res.status >= 300 ? `${call.path} -> HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}` : undefined),
        (err: unknown) => settle(k, performance.now() - sent, 0, `${call.path}: ${(err as Error).message}`),
      );
    }
  }
  if (n > 0) await done;
  const wallMs = performance.now() - started;
  const lateness = Array.from(late);
  const out: OpenLoopResult = { targetRps: rps, achievedRps: (n - errors) / (wallMs / 1000), requests: n, errors, latencies: Array.from(latencies), lateP99: percentile(lateness, 99), lateMax: n ? Math.max(...lateness) : 0, statuses };
  if (firstError !== undefined) out.firstError = firstError;
  return out;
}
