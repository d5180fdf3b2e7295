import type { LapisClient, MetricHistory, Run } from '../../../src/client/index.js';
import { PALETTE, type ChartSeries } from './chart-data.js';

/** Points asked of the server per history: more than any chart is wide in pixels, times two. */
export const CHART_POINTS = 2500;

/** One metric of several runs, down-sampled by the server (min/max per bucket); a run without it gets none. */
export function fetchHistories(client: LapisClient, runIds: string[], key: string, signal: AbortSignal): Promise<MetricHistory[]> {
  return Promise.all(runIds.map((id) => client.runs.metricHistory(id, key, { maxPoints: CHART_POINTS, signal })));
}

/** Histories as chart series, labelled and coloured by run (in the order of `runs`). */
export function toSeries(runs: Run[], histories: MetricHistory[]): ChartSeries[] {
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

export async function loadSeries(client: LapisClient, runs: Run[], key: string, signal: AbortSignal): Promise<ChartSeries[]> {
  return toSeries(runs, await fetchHistories(client, runs.map((r) => r.info.run_id), key, signal));
}
