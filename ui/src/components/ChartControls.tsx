import type { XAxis } from '../lib/chart-data.js';
import { navigate, useLocation, withQuery } from '../lib/router.js';

export interface ChartSettings {
  xAxis: XAxis;
  smoothing: number;
  log: boolean;
}

/** Chart settings live in the URL (x, smooth, log): a shared link shows the same curves. */
export function useChartSettings(): ChartSettings {
  const { query } = useLocation();
  const x = query.get('x');
  const smoothing = Number(query.get('smooth') ?? 0);
  return {
    xAxis: x === 'time' || x === 'relative' ? x : 'step',
    smoothing: Number.isFinite(smoothing) ? Math.min(0.99, Math.max(0, smoothing)) : 0,
    log: query.get('log') === '1',
  };
}

export function ChartControls({ settings }: { settings: ChartSettings }) {
  const loc = useLocation();
  const set = (changes: Record<string, string | undefined>) => navigate(withQuery(loc, changes), { replace: true });
  return (
    <div className="chart-controls" role="group" aria-label="Chart settings">
      <label>
        X axis{' '}
        <select value={settings.xAxis} onChange={(e) => set({ x: e.target.value === 'step' ? undefined : e.target.value })}>
          <option value="step">step</option>
          <option value="time">wall time</option>
          <option value="relative">relative time</option>
        </select>
      </label>
      <label>
        Smoothing{' '}
        <input
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={settings.smoothing}
          onChange={(e) => set({ smooth: e.target.value === '0' ? undefined : e.target.value })}
          aria-valuetext={settings.smoothing.toFixed(2)}
        />{' '}
        <output>{settings.smoothing.toFixed(2)}</output>
      </label>
      <label>
        <input type="checkbox" checked={settings.log} onChange={(e) => set({ log: e.target.checked ? '1' : undefined })} /> Log scale
      </label>
    </div>
  );
}
