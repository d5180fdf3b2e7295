import { describe, expect, it } from 'vitest';
import { downsampleIndices } from './downsample.js';

describe('downsampleIndices', () => {
  it('keeps every point when there are few', () => {
    expect(downsampleIndices([1, 2, 3], [1, 2, 3], 10)).toEqual([0, 1, 2]);
  });

  it('keeps the spike that even sampling would drop, and both ends', () => {
    const n = 100_000;
    const xs = Array.from({ length: n }, (_, i) => i);
    const ys = xs.map((i) => (i === 54_321 ? 1000 : Math.sin(i / 1000)));
    const kept = downsampleIndices(xs, ys, 1000);
    expect(kept.length).toBeLessThanOrEqual(1002);
    expect(kept).toContain(54_321);
    expect(kept[0]).toBe(0);
    expect(kept.at(-1)).toBe(n - 1);
    expect([...kept].sort((a, b) => a - b)).toEqual(kept);
  });

  it('skips values that are not finite', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i);
    const ys = xs.map((i) => (i % 2 ? Number.NaN : i));
    const kept = downsampleIndices(xs, ys, 10);
    expect(kept.slice(1, -1).every((i) => i % 2 === 0)).toBe(true);
  });
});
