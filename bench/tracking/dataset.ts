import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/**
 * The benchmark's data, generated from a fixed seed so both servers hold exactly the same runs:
 * the search experiment's runs (10 params, 10 metrics, 5 tags each), the one long metric history,
 * and the log-batch payloads.
 */
export const PARAM_KEYS = Array.from({ length: 10 }, (_, i) => `p${i + 1}`);
export const METRIC_KEYS = Array.from({ length: 10 }, (_, i) => `m${i + 1}`);
export const TAG_KEYS = Array.from({ length: 5 }, (_, i) => `t${i + 1}`);

/** Start time of the first seeded run; run i starts i seconds later. */
export const SEED_T0 = 1_700_000_000_000;
export const HISTORY_T0 = 1_710_000_000_000;
export const HISTORY_KEY = 'loss';
/** History point values are exact in both languages: (step % 1000) / 1000. */
export const historyValue = (step: number): number => (step % 1000) / 1000;

export interface SeedRun {
  name: string;
  start: number;
  params: string[];
  metrics: number[];
  tags: string[];
}

/** mulberry32: a small, fast, deterministic PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedRuns(count: number): SeedRun[] {
  const rand = rng(42);
  const runs: SeedRun[] = [];
  for (let i = 0; i < count; i++) {
    runs.push({
      name: `run-${String(i).padStart(6, '0')}`,
      start: SEED_T0 + i * 1000,
      params: PARAM_KEYS.map(() => `v${Math.floor(rand() * 10)}`),
      metrics: METRIC_KEYS.map(() => rand()),
      tags: TAG_KEYS.map(() => `tag-${Math.floor(rand() * 5)}`),
    });
  }
  return runs;
}

/** One TSV line per run (name, start, params…, metrics…, tags…) for the Python seeder. */
export async function writeRunsTsv(path: string, runs: readonly SeedRun[]): Promise<void> {
  const out = createWriteStream(path);
  let buffer = '';
  for (const r of runs) {
    // String(number) is the shortest round-tripping form: Python's float() reads back the same double.
    buffer += `${r.name}\t${r.start}\t${r.params.join('\t')}\t${r.metrics.map(String).join('\t')}\t${r.tags.join('\t')}\n`;
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await once(out, 'finish');
}

export interface IngestShape {
  keys: number;
  stepsPerRequest: number;
}

/**
 * A log-batch body of keys × stepsPerRequest metric points (key-major), the request-th of its
 * run: steps continue from one request to the next, as a training loop would log them.
 */
export function ingestBody(runId: string, request: number, shape: IngestShape, rand: () => number): Buffer {
  const parts: string[] = [];
  for (let k = 0; k < shape.keys; k++) {
    for (let s = 0; s < shape.stepsPerRequest; s++) {
      const step = request * shape.stepsPerRequest + s;
      parts.push(`{"key":"train_m${k}","value":${rand()},"timestamp":${HISTORY_T0 + step},"step":${step}}`);
    }
  }
  return Buffer.from(`{"run_id":"${runId}","metrics":[${parts.join(',')}]}`);
}
