/**
 * Min/max down-sampling for charts: the x range is cut into buckets and each bucket keeps its
 * lowest and highest point (in x order), so spikes survive where evenly spaced sampling would drop
 * them, and a curve of 100,000 steps draws from a few thousand points that look the same.
 * Shared by the server (metric histories for the studio) and the studio's chart (client side).
 */
export function downsampleIndices(xs: ArrayLike<number>, ys: ArrayLike<number | null>, maxPoints: number): number[] {
  const n = xs.length;
  const all = (): number[] => Array.from({ length: n }, (_, i) => i);
  if (n <= maxPoints || maxPoints < 4) return all();
  const x0 = xs[0] as number;
  const span = (xs[n - 1] as number) - x0;
  if (!(span > 0)) return all();
  const buckets = Math.floor(maxPoints / 2);
  const lo = new Int32Array(buckets).fill(-1);
  const hi = new Int32Array(buckets).fill(-1);
  for (let i = 0; i < n; i++) {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) continue;
    const b = Math.min(buckets - 1, Math.floor((((xs[i] as number) - x0) / span) * buckets));
    const l = lo[b] as number;
    if (l < 0) {
      lo[b] = i;
      hi[b] = i;
    } else if (y < (ys[l] as number)) lo[b] = i;
    else if (y > (ys[hi[b] as number] as number)) hi[b] = i;
  }
  const out: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const l = lo[b] as number;
    if (l < 0) continue;
    const h = hi[b] as number;
    if (l === h) out.push(l);
    else out.push(Math.min(l, h), Math.max(l, h));
  }
  // The ends stay exact: a curve starts and stops where the data does.
  if (out[0] !== 0) out.unshift(0);
  if (out[out.length - 1] !== n - 1) out.push(n - 1);
  return out;
}
