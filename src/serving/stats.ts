/**
 * Per-deployment request statistics: Prometheus series for scraping, and a window of recent
 * latencies for `lapis online-deployment show` (percentiles of the last 2,048 requests).
 *
 * Recording a request allocates nothing: counts and latencies go into typed arrays, and the
 * Prometheus text is written only when /metrics is scraped. (prom-client's labelled `inc` and
 * `observe` allocated hundreds of bytes per scoring request — label objects, hash strings, boxed
 * numbers — and that garbage, on the router's thread, showed up as the latency tail.)
 */

const WINDOW = 2048;
/** Upper bounds of the latency histogram, seconds (Prometheus `le`). */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class Series {
  requests = 0;
  errors = 0;
  throttled = 0;
  /** Requests by HTTP status. */
  readonly statuses = new Map<number, number>();
  /** Requests per histogram bucket (not cumulative); the last one is +Inf. */
  readonly buckets = new Float64Array(BUCKETS.length + 1);
  /** [0]: the sum of all latencies, seconds. A typed array: a number field would be re-boxed on every update. */
  readonly sum = new Float64Array(1);
  /** The latest WINDOW latencies (ms), a ring. */
  readonly latencies = new Float64Array(WINDOW);
  next = 0;
  /** ONNX deployments: runs of the model, and the requests answered by them; null for Python ones. */
  runs: { runs: number; scored: number } | null = null;

  constructor(
    readonly endpoint: string,
    readonly deployment: string,
  ) {}
}

export interface DeploymentMetrics {
  requests: number;
  /** 5xx answers (the deployment's fault), not 4xx (the caller's). */
  errors: number;
  error_rate: number;
  throttled: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  /** ONNX deployments: runs of the model so far, and requests answered per run (requests that arrive while a run is in flight share the next one); null for Python ones. */
  model_runs: number | null;
  requests_per_run: number | null;
}

export class ServingStats {
  /** By endpoint, then deployment: no key string is built per request. */
  readonly #series = new Map<string, Map<string, Series>>();

  /** `runs`: what an ONNX answer says of its model run (ScoreAnswer.runs); undefined for Python hosts and for requests that got no answer. */
  record(endpoint: string, deployment: string, status: number, ms: number, runs?: 0 | 1): void {
    let byDeployment = this.#series.get(endpoint);
    if (!byDeployment) this.#series.set(endpoint, (byDeployment = new Map()));
    let s = byDeployment.get(deployment);
    if (!s) byDeployment.set(deployment, (s = new Series(endpoint, deployment)));
    s.requests += 1;
    if (status >= 500) s.errors += 1;
    if (status === 429) s.throttled += 1;
    s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
    s.latencies[s.next % WINDOW] = ms;
    s.next += 1;
    const seconds = ms / 1000;
    let b = 0;
    while (b < BUCKETS.length && seconds > (BUCKETS[b] as number)) b++;
    (s.buckets[b] as number) += 1;
    (s.sum[0] as number) += seconds;
    if (runs !== undefined && status < 300) {
      s.runs ??= { runs: 0, scored: 0 };
      s.runs.runs += runs;
      s.runs.scored += 1;
    }
  }

  of(endpoint: string, deployment: string): DeploymentMetrics {
    const s = this.#series.get(endpoint)?.get(deployment);
    const sorted = s ? s.latencies.slice(0, Math.min(s.next, WINDOW)).sort() : new Float64Array(0);
    const pct = (p: number): number | null => (sorted.length === 0 ? null : Math.round((sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number) * 100) / 100);
    const requests = s?.requests ?? 0;
    const errors = s?.errors ?? 0;
    const r = s?.runs;
    return {
      requests,
      errors,
      error_rate: requests ? errors / requests : 0,
      throttled: s?.throttled ?? 0,
      p50_ms: pct(50),
      p95_ms: pct(95),
      p99_ms: pct(99),
      model_runs: r ? r.runs : null,
      requests_per_run: r?.runs ? Math.round((r.scored / r.runs) * 100) / 100 : null,
    };
  }

  forget(endpoint: string, deployment?: string): void {
    if (deployment) this.#series.get(endpoint)?.delete(deployment);
    else this.#series.delete(endpoint);
  }

  /** The series in Prometheus' text format, for /metrics. */
  prometheus(): string {
    const all = [...this.#series.values()].flatMap((m) => [...m.values()]);
    const lines = [
      '# HELP lapis_endpoint_requests_total Scoring requests by endpoint, deployment and status code.',
      '# TYPE lapis_endpoint_requests_total counter',
      ...all.flatMap((s) => [...s.statuses].map(([status, n]) => `lapis_endpoint_requests_total{${labels(s)},status="${status}"} ${n}`)),
      '# HELP lapis_endpoint_request_duration_seconds Scoring latency through the router, by endpoint and deployment.',
      '# TYPE lapis_endpoint_request_duration_seconds histogram',
    ];
    for (const s of all) {
      let cumulative = 0;
      s.buckets.forEach((n, b) => {
        cumulative += n;
        lines.push(`lapis_endpoint_request_duration_seconds_bucket{${labels(s)},le="${b < BUCKETS.length ? BUCKETS[b] : '+Inf'}"} ${cumulative}`);
      });
      lines.push(`lapis_endpoint_request_duration_seconds_sum{${labels(s)}} ${s.sum[0]}`, `lapis_endpoint_request_duration_seconds_count{${labels(s)}} ${s.requests}`);
    }
    const onnx = all.filter((s) => s.runs);
    if (onnx.length > 0) {
      lines.push(
        '# HELP lapis_endpoint_model_runs_total ONNX Runtime runs by endpoint and deployment; requests that arrive while a run is in flight share the next one.',
        '# TYPE lapis_endpoint_model_runs_total counter',
        ...onnx.map((s) => `lapis_endpoint_model_runs_total{${labels(s)}} ${s.runs?.runs}`),
        '# HELP lapis_endpoint_model_run_requests_total Requests answered by those runs.',
        '# TYPE lapis_endpoint_model_run_requests_total counter',
        ...onnx.map((s) => `lapis_endpoint_model_run_requests_total{${labels(s)}} ${s.runs?.scored}`),
      );
    }
    return `${lines.join('\n')}\n`;
  }
}

const labels = (s: Series): string => `endpoint="${escapeLabel(s.endpoint)}",deployment="${escapeLabel(s.deployment)}"`;
const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
