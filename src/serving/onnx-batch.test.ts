import { describe, expect, it } from 'vitest';
import { mergeRows, RunBatcher, type BatchAnswer, type RunRows } from './onnx-batch.js';
import type { ParsedBody } from './onnx-payloads.js';

/** A body of `rows` rows of two features, each row [id, id]; ids from `first`. */
function body(first: number, rows: number, text?: string[]): ParsedBody {
  const values = new Float64Array(rows * 2);
  for (let i = 0; i < rows; i++) values.set([first + i, first + i], i * 2);
  return { rows, values, text: text ? new Map([[1, text]]) : null, wrap: false };
}

/** A session stand-in: answers each row with its id (text rows with their text), after a turn of the event loop as ONNX Runtime does; records each run's row ids. */
function session(refuse?: (p: ParsedBody) => boolean): { run: RunRows; runs: number[][] } {
  const runs: number[][] = [];
  const run: RunRows = (p) =>
    new Promise((resolve, reject) => {
      setImmediate(() => {
        const ids = Array.from({ length: p.rows }, (_, i) => p.values[i * 2] as number);
        runs.push(ids);
        if (refuse?.(p)) reject(new Error(`refused rows ${ids.join(',')}`));
        else resolve(p.text ? (p.text.get(1) as string[]) : ids);
      });
    });
  return { run, runs };
}

const predictions = (answers: BatchAnswer[]): unknown[][] => answers.map((a) => a.predictions);

describe('RunBatcher', () => {
  it('runs a request at once when nothing is in flight, and those that arrive meanwhile together in the next run', async () => {
    const s = session();
    const batcher = new RunBatcher(s.run, 100);
    const answers = await Promise.all([batcher.score(body(1, 1)), batcher.score(body(10, 2)), batcher.score(body(20, 1)), batcher.score(body(30, 3))]);
    expect(predictions(answers)).toEqual([[1], [10, 11], [20], [30, 31, 32]]);
    expect(s.runs).toEqual([[1], [10, 11, 20, 30, 31, 32]]);
    // The answers count the runs: one each for the first request alone and for the batch.
    expect(answers.map((a) => a.runs)).toEqual([1, 1, 0, 0]);
    // Idle again: the next request runs alone, at once.
    expect(await batcher.score(body(40, 1))).toEqual({ predictions: [40], runs: 1 });
    expect(s.runs.at(-1)).toEqual([40]);
  });

  it('caps a batch at maxRows; a request larger than that runs alone', async () => {
    const s = session();
    const batcher = new RunBatcher(s.run, 4);
    const answers = await Promise.all([batcher.score(body(1, 1)), batcher.score(body(10, 3)), batcher.score(body(20, 2)), batcher.score(body(30, 9)), batcher.score(body(50, 1))]);
    expect(answers.map((a) => a.predictions.length)).toEqual([1, 3, 2, 9, 1]);
    expect(answers.every((a) => a.runs === 1)).toBe(true);
    expect(s.runs.map((r) => r.length)).toEqual([1, 3, 2, 9, 1]);
  });

  it('runs a refused batch again one request at a time: only the bad request fails', async () => {
    const s = session((p) => Array.from({ length: p.rows }, (_, i) => p.values[i * 2]).includes(666));
    const batcher = new RunBatcher(s.run, 100);
    const results = await Promise.allSettled([batcher.score(body(1, 1)), batcher.score(body(10, 1)), batcher.score(body(666, 1)), batcher.score(body(20, 2))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(results[3]).toEqual({ status: 'fulfilled', value: { predictions: [20, 21], runs: 1 } });
    expect(String((results[2] as PromiseRejectedResult).reason)).toContain('refused rows 666');
    expect(s.runs).toEqual([[1], [10, 666, 20, 21], [10], [666], [20, 21]]);
    // And it keeps serving afterwards.
    expect((await batcher.score(body(5, 1))).predictions).toEqual([5]);
  });

  it('runs a body of no rows on its own, never as a share of a batch', async () => {
    const s = session();
    const batcher = new RunBatcher(s.run, 100);
    const answers = await Promise.all([batcher.score(body(1, 1)), batcher.score(body(10, 1)), batcher.score(body(0, 0)), batcher.score(body(20, 1))]);
    expect(predictions(answers)).toEqual([[1], [10], [], [20]]);
    expect(s.runs).toContainEqual([]);
    expect(s.runs).toContainEqual([10, 20]);
  });

  it('falls back to single runs when a batch does not answer one prediction per row', async () => {
    const runs: number[] = [];
    const batcher = new RunBatcher(async (p) => {
      await new Promise((r) => setImmediate(r));
      runs.push(p.rows);
      return [p.rows]; // one value per run, whatever the rows
    }, 100);
    const answers = await Promise.all([batcher.score(body(1, 1)), batcher.score(body(2, 1)), batcher.score(body(3, 1))]);
    expect(predictions(answers)).toEqual([[1], [1], [1]]);
    expect(runs).toEqual([1, 2, 1, 1]);
  });
});

describe('mergeRows', () => {
  it('concatenates values and text columns in order', () => {
    const merged = mergeRows([body(1, 2, ['a', 'b']), body(5, 1, ['c'])]);
    expect(merged.rows).toBe(3);
    expect(Array.from(merged.values)).toEqual([1, 1, 2, 2, 5, 5]);
    expect(merged.text?.get(1)).toEqual(['a', 'b', 'c']);
    expect(mergeRows([body(1, 1)]).text).toBeNull();
  });
});
