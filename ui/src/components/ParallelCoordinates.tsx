import { PALETTE } from '../lib/chart-data.js';

export interface PcAxis {
  label: string;
  /** One value per line; undefined where a run lacks it. */
  values: (number | string | undefined)[];
}

const W = 160;
const H = 260;
const PAD = 28;

/**
 * Parallel coordinates (SVG): one vertical axis per parameter or metric, one line per run.
 * Numeric axes are linear between their min and max; other values are spread as categories.
 */
export function ParallelCoordinates({ axes, lines }: { axes: PcAxis[]; lines: string[] }) {
  if (axes.length < 2) return <p className="hint">Parallel coordinates need at least two parameters or metrics.</p>;
  const scales = axes.map((a) => {
    const defined = a.values.filter((v): v is number | string => v !== undefined);
    const numeric = defined.every((v) => typeof v === 'number' || (v !== '' && Number.isFinite(Number(v))));
    if (numeric) {
      const nums = defined.map(Number);
      const lo = Math.min(...nums);
      const hi = Math.max(...nums);
      return { ticks: [String(Number(hi.toPrecision(4))), String(Number(lo.toPrecision(4)))], y: (v: number | string) => (hi === lo ? H / 2 : PAD + ((hi - Number(v)) / (hi - lo)) * (H - 2 * PAD)) };
    }
    const cats = [...new Set(defined.map(String))].sort();
    return { ticks: cats.length <= 6 ? cats : [cats[0] as string, cats[cats.length - 1] as string], y: (v: number | string) => PAD + (cats.length === 1 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1)) * (H - 2 * PAD) };
  });
  const width = (axes.length - 1) * W + 2 * PAD + 80;
  return (
    <svg className="pcoords" width={width} height={H + 30} role="img" aria-label={`Parallel coordinates of ${axes.map((a) => a.label).join(', ')}`}>
      {axes.map((a, i) => (
        <g key={a.label} transform={`translate(${PAD + 40 + i * W},0)`}>
          <line y1={PAD} y2={H - PAD} className="axis" />
          <text y={H - 4} textAnchor="middle" className="axis-label">
            {a.label.length > 22 ? `${a.label.slice(0, 21)}…` : a.label}
          </text>
          {(scales[i]?.ticks ?? []).map((t) => (
            <text key={t} x={-6} y={(scales[i] as { y: (v: string) => number }).y(t) + 4} textAnchor="end" className="tick">
              {t}
            </text>
          ))}
        </g>
      ))}
      {lines.map((name, li) => {
        const pts = axes.flatMap((a, i) => {
          const v = a.values[li];
          return v === undefined ? [] : [`${PAD + 40 + i * W},${(scales[i] as { y: (v: number | string) => number }).y(v)}`];
        });
        return (
          <polyline key={name + li} points={pts.join(' ')} fill="none" stroke={PALETTE[li % PALETTE.length]} strokeWidth={2} opacity={0.85}>
            <title>{name}</title>
          </polyline>
        );
      })}
    </svg>
  );
}
