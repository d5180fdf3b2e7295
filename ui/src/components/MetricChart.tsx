import { useEffect, useMemo, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useTheme } from '../lib/theme.js';
import { buildChartData, type ChartOptions, type ChartSeries } from '../lib/chart-data.js';

export interface MetricChartProps extends Partial<ChartOptions> {
  title: string;
  series: ChartSeries[];
  height?: number;
  /** Called after each draw with the milliseconds since the data or options changed. */
  onDraw?: (ms: number) => void;
}

const cssVar = (name: string): string => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';

/**
 * A uPlot line chart of metric histories. It owns its canvas; data changes go through setData,
 * option changes (axis, log scale, theme) rebuild the plot, and the width follows the container.
 */
export function MetricChart({ title, series, xAxis = 'step', smoothing = 0, log = false, maxPoints, height = 260, onDraw }: MetricChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [width, setWidth] = useState(600);
  const started = useRef(performance.now());
  const drawn = useRef(onDraw);
  drawn.current = onDraw;

  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setWidth(Math.max(200, Math.floor(el.clientWidth))));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const points = maxPoints ?? Math.max(500, width * 2);
  const data = useMemo(() => {
    started.current = performance.now();
    return buildChartData(series, { xAxis, smoothing, log, maxPoints: points });
  }, [series, xAxis, smoothing, log, points]);
  const theme = useTheme();
  const labels = series.map((s) => `${s.label}\u0000${s.color}`).join('\u0001');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axis = { stroke: cssVar('--fg-muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
    const opts: uPlot.Options = {
      title,
      width,
      height,
      scales: { x: { time: xAxis === 'time' }, y: { distr: log ? 3 : 1 } },
      axes: [{ ...axis, label: xAxis === 'step' ? 'step' : xAxis === 'time' ? 'time' : 'seconds since start' }, axis],
      series: [{ label: xAxis === 'relative' ? 'seconds' : xAxis }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, spanGaps: true, points: { show: false } }))],
      cursor: { drag: { x: true, y: false } },
      hooks: { draw: [() => drawn.current?.(performance.now() - started.current)] },
    };
    plot.current = new uPlot(opts, data, el);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // Data changes are applied below without a rebuild.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [title, xAxis, log, height, labels, theme]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  useEffect(() => {
    plot.current?.setSize({ width, height });
  }, [width, height]);

  return <div ref={box} className="chart" data-testid={`chart-${title}`} />;
}
