import type { LapisClient, Run } from '../../../src/client/index.js';
import { PALETTE, type ChartSeries } from './chart-data.js';

/** Points asked of the server per history: more than any chart is wide in pixels, times two. */
export const CHART_POINTS = 2500;

/** One metric of several runs as chart series (down-sampled by the server, min/max per bucket). */
export async function loadSeries(client: LapisClient, runs: Run[], key: string, signal: AbortSignal): Promise<ChartSeries[]> {
  const histories = await Promise.all(
    runs.map((r) => (r.data.metrics.some((m) => m.key === key) ? client.runs.metricHistory(r.info.run_id, key, { maxPoints: CHART_POINTS, signal }) : Promise.resolve({ metrics: [] }))),
  );
  return histories.map((h, i) => {
    const run = runs[i] as Run;
    const n = h.metrics.length;
    const steps = new Float64Array(n);
    const times = new Float64Array(n);
    const values = new Array<number | null>(n);
    h.metrics.forEach((m, j) => {
      steps[j] = m.step;
      times[j] = m.timestamp;
      values[j] = typeof m.value === 'number' ? m.value : null;
    });
    return { label: run.info.run_name || run.info.run_id, color: PALETTE[i % PALETTE.length] as string, steps, times, values };
  });
}
