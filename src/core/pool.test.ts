import { describe, expect, it } from 'vitest';
import { pool } from './pool.js';

describe('pool', () => {
  it('runs at most `limit` at once and every item once', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await pool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(n);
      running--;
    });
    expect(peak).toBe(3);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('stops starting items after the first failure, aborts the running ones, and throws it', async () => {
    const started: number[] = [];
    const aborted: number[] = [];
    const run = pool([1, 2, 3, 4, 5], 2, async (n, signal) => {
      started.push(n);
      if (n === 1) throw new Error('one failed');
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      aborted.push(n);
    });
    await expect(run).rejects.toThrow('one failed');
    expect(started).toEqual([1, 2]);
    expect(aborted).toEqual([2]);
  });

  it('starts nothing when the signal is already aborted', async () => {
    const started: number[] = [];
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await expect(pool([1, 2], 2, async (n) => void started.push(n), controller.signal)).rejects.toThrow('stopped');
    expect(started).toEqual([]);
  });
});
