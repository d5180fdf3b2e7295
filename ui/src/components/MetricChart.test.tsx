import { cleanup, render } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildChartData, smooth, type ChartSeries } from '../lib/chart-data.js';
import { MetricChart } from './MetricChart.js';

/** 100,000 steps of a decaying curve with one spike, 10 ms apart. */
function series(label: string, n = 100_000, offset = 0): ChartSeries {
  const steps = new Float64Array(n);
  const times = new Float64Array(n);
  const values = new Array<number | null>(n);
  for (let i = 0; i < n; i++) {
    steps[i] = i;
    times[i] = 1_700_000_000_000 + i * 10;
    values[i] = i === 4321 ? 50 : 1 / (i + 1) + offset;
  }
  return { label, color: '#123456', steps, times, values };
}

describe('buildChartData', () => {
  it('down-samples 10 runs × 100,000 steps to the points a chart can show, keeping spikes', () => {
    const runs = Array.from({ length: 10 }, (_, i) => series(`run-${i}`, 100_000, i));
    const started = performance.now();
    const [xs, ...ys] = buildChartData(runs, { xAxis: 'step', smoothing: 0, log: false, maxPoints: 2000 });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(ys).toHaveLength(10);
    expect(xs.length).toBeLessThanOrEqual(2002);
    expect(Math.max(...(ys[0] as number[]))).toBe(50);
    expect(xs[0]).toBe(0);
    expect(xs.at(-1)).toBe(99_999);
  });

  it('joins runs that logged different steps on one x axis', () => {
    const a: ChartSeries = { label: 'a', color: '#000', steps: [0, 2], times: [0, 2], values: [1, 3] };
    const b: ChartSeries = { label: 'b', color: '#000', steps: [1, 2], times: [1, 2], values: [5, 6] };
    expect(buildChartData([a, b], { xAxis: 'step', smoothing: 0, log: false, maxPoints: 100 })).toEqual([
      [0, 1, 2],
      [1, null, 3],
      [null, 5, 6],
    ]);
  });

  it('puts wall time in seconds, relative time from the first point, and drops values a log scale cannot show', () => {
    const s: ChartSeries = { label: 's', color: '#000', steps: [0, 1, 2], times: [5000, 6000, 8000], values: [-1, 0, 10] };
    expect(buildChartData([s], { xAxis: 'time', smoothing: 0, log: true, maxPoints: 100 })).toEqual([
      [5, 6, 8],
      [null, null, 10],
    ]);
    expect(buildChartData([s], { xAxis: 'relative', smoothing: 0, log: false, maxPoints: 100 })[0]).toEqual([0, 1, 3]);
  });

  it('smooths with a debiased moving average that skips gaps', () => {
    expect(smooth([2, 2, 2], 0.9)).toEqual([2, 2, 2].map(() => expect.closeTo(2, 10)));
    const out = smooth([0, null, 10], 0.5);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeCloseTo((0.25 * 0 * 2 + 0.5 * 10) / 0.75, 10);
  });
});

/** happy-dom has no 2D canvas: a context that records what uPlot draws. */
function recordingContext(calls: Record<string, number>): CanvasRenderingContext2D {
  const target: Record<string, unknown> = { canvas: null, measureText: () => ({ width: 10, actualBoundingBoxAscent: 8, actualBoundingBoxDescent: 2 }) };
  return new Proxy(target, {
    get(t, key: string) {
      if (key in t) return t[key];
      return (..._args: unknown[]) => {
        calls[key] = (calls[key] ?? 0) + 1;
        return undefined;
      };
    },
    set(t, key: string, value) {
      t[key] = value;
      return true;
    },
  }) as unknown as CanvasRenderingContext2D;
}

/** uPlot builds each series as a Path2D: this one counts the segments drawn. */
function recordingPath2D(calls: Record<string, number>) {
  return class {
    constructor() {
      return new Proxy(this, {
        get: (_t, key: string) => (..._args: unknown[]) => {
          calls[`path.${key}`] = (calls[`path.${key}`] ?? 0) + 1;
        },
      });
    }
  };
}

const frame = () => new Promise((r) => setTimeout(r, 0));

describe('MetricChart', () => {
  const calls: Record<string, number> = {};
  beforeEach(() => {
    for (const k of Object.keys(calls)) delete calls[k];
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(() => recordingContext(calls) as never);
    vi.stubGlobal('Path2D', recordingPath2D(calls));
  });
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it('draws 10 runs × 100,000 steps from a few thousand points, with a legend per run', async () => {
    const onDraw = vi.fn();
    const runs = Array.from({ length: 10 }, (_, i) => series(`run-${i}`, 100_000, i));
    const { container } = render(<MetricChart title="loss" series={runs} maxPoints={1000} onDraw={onDraw} />);
    expect(container.querySelector('canvas')).not.toBeNull();
    const legend = [...container.querySelectorAll('.u-legend .u-series')].map((e) => e.textContent);
    expect(legend).toHaveLength(11);
    expect(legend[1]).toContain('run-0');
    await frame();
    expect(onDraw).toHaveBeenCalled();
    // Every line segment is a lineTo: 10 series of at most ~1000 points each, not a million.
    expect(calls['path.lineTo'] ?? 0).toBeGreaterThan(1000);
    expect(calls['path.lineTo'] ?? 0).toBeLessThan(10 * 1100);
  });

  it('rebuilds for a log scale or another x axis, and cleans up on unmount', async () => {
    const { container, rerender, unmount } = render(<MetricChart title="loss" series={[series('a', 1000)]} />);
    expect(container.textContent).toContain('step');
    rerender(<MetricChart title="loss" series={[series('a', 1000)]} xAxis="relative" log />);
    expect(container.querySelectorAll('.uplot')).toHaveLength(1);
    expect(container.querySelector('.u-legend')?.textContent).toContain('seconds');
    await frame();
    unmount();
    expect(document.querySelector('.uplot')).toBeNull();
  });
});
