import type uPlot from 'uplot';
import { downsampleIndices } from '../../../src/core/downsample.js';

export type XAxis = 'step' | 'time' | 'relative';

export interface ChartSeries {
  label: string;
  color: string;
  steps: ArrayLike<number>;
  /** Epoch milliseconds. */
  times: ArrayLike<number>;
  /** null: NaN or missing. */
  values: ArrayLike<number | null>;
}

export interface ChartOptions {
  xAxis: XAxis;
  /** 0 (none) … 0.99: the weight of the past in an exponential moving average. */
  smoothing: number;
  log: boolean;
  /** Points kept per series (about two per pixel column). */
  maxPoints: number;
}

/** TensorBoard's smoothing: an exponential moving average, debiased so the start is not pulled to 0. */
export function smooth(values: ArrayLike<number | null>, weight: number): (number | null)[] {
  const out = new Array<number | null>(values.length);
  if (weight <= 0) {
    for (let i = 0; i < values.length; i++) out[i] = values[i] ?? null;
    return out;
  }
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

function xsOf(s: ChartSeries, axis: XAxis): number[] {
  const n = s.steps.length;
  const xs = new Array<number>(n);
  const t0 = n > 0 ? (s.times[0] as number) : 0;
  for (let i = 0; i < n; i++) xs[i] = axis === 'step' ? (s.steps[i] as number) : axis === 'time' ? (s.times[i] as number) / 1000 : ((s.times[i] as number) - t0) / 1000;
  return xs;
}

/**
 * Series → uPlot's aligned data: x chosen (step, wall time, or time since the run's first point),
 * each series down-sampled (min/max per bucket) to `maxPoints`, smoothed, made positive for a
 * log scale, then joined on one x array (a series lacking an x gets null there).
 */
export function buildChartData(series: ChartSeries[], opts: ChartOptions): uPlot.AlignedData {
  const prepared = series.map((s) => {
    let xs = xsOf(s, opts.xAxis);
    let ys: (number | null)[] = Array.from(s.values as ArrayLike<number | null>, (v) => (v === null || !Number.isFinite(v) ? null : v));
    if (opts.xAxis !== 'step' && xs.some((x, i) => i > 0 && x < (xs[i - 1] as number))) {
      const order = xs.map((_, i) => i).sort((a, b) => (xs[a] as number) - (xs[b] as number));
      xs = order.map((i) => xs[i] as number);
      ys = order.map((i) => ys[i] as number | null);
    }
    // Smooth first (on every point), then thin out: the curve is the same, only cheaper to draw.
    ys = smooth(ys, opts.smoothing);
    const keep = downsampleIndices(xs, ys, opts.maxPoints);
    const kx = keep.map((i) => xs[i] as number);
    const ky = keep.map((i) => {
      const y = ys[i] as number | null;
      return opts.log && y !== null && y <= 0 ? null : y;
    });
    return { xs: kx, ys: ky };
  });
  const first = prepared[0];
  if (!first) return [[]];
  // One shared x array: identical when runs log the same steps (the common case), else merged.
  const same = prepared.every((p) => p.xs.length === first.xs.length && p.xs.every((x, i) => x === first.xs[i]));
  if (same) return [first.xs, ...prepared.map((p) => p.ys)] as uPlot.AlignedData;
  const all = Array.from(new Set(prepared.flatMap((p) => p.xs))).sort((a, b) => a - b);
  const at = new Map(all.map((x, i) => [x, i]));
  const columns = prepared.map((p) => {
    const col = new Array<number | null>(all.length).fill(null);
    p.xs.forEach((x, i) => (col[at.get(x) as number] = p.ys[i] as number | null));
    return col;
  });
  return [all, ...columns] as uPlot.AlignedData;
}

/** Distinct colours for up to 10 runs, then they repeat. */
export const PALETTE = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5', '#9c6b4e', '#9498a0'];
