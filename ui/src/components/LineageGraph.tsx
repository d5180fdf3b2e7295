import type { LineageGraph as Graph, LineageNode } from '../../../src/client/index.js';

const BOX_W = 190;
const BOX_H = 44;
const GAP_X = 110;
const GAP_Y = 16;

/**
 * A model version's lineage as layers: the version on the left, what it came from to the right
 * (run, experiment, data, environment, code…), one column per hop; edges as lines between boxes.
 */
export function LineageGraph({ graph, href }: { graph: Graph; href?: (node: LineageNode) => string | undefined }) {
  const depth = new Map<string, number>([[graph.root, 0]]);
  for (let changed = true, guard = 0; changed && guard < graph.nodes.length + 1; guard++) {
    changed = false;
    for (const e of graph.edges) {
      const d = depth.get(e.from);
      if (d !== undefined && (depth.get(e.to) ?? -1) < d + 1 && d + 1 <= graph.nodes.length) {
        depth.set(e.to, d + 1);
        changed = true;
      }
    }
  }
  const columns: LineageNode[][] = [];
  for (const n of graph.nodes) {
    const d = depth.get(n.id) ?? 0;
    (columns[d] ??= []).push(n);
  }
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) => col.forEach((n, r) => pos.set(n.id, { x: c * (BOX_W + GAP_X), y: r * (BOX_H + GAP_Y) })));
  const width = columns.length * (BOX_W + GAP_X);
  const height = Math.max(...columns.map((c) => c.length)) * (BOX_H + GAP_Y);
  return (
    <svg className="lineage" width={width} height={height} role="img" aria-label="Lineage graph" data-testid="lineage-graph">
      {graph.edges.map((e, i) => {
        const a = pos.get(e.from);
        const b = pos.get(e.to);
        if (!a || !b) return null;
        return (
          <g key={i}>
            <line x1={a.x + BOX_W} y1={a.y + BOX_H / 2} x2={b.x} y2={b.y + BOX_H / 2} className="edge" />
            <text x={(a.x + BOX_W + b.x) / 2} y={(a.y + b.y) / 2 + BOX_H / 2 - 4} className="edge-label" textAnchor="middle">
              {e.kind}
            </text>
          </g>
        );
      })}
      {graph.nodes.map((n) => {
        const p = pos.get(n.id) as { x: number; y: number };
        const link = href?.(n);
        const box = (
          <g transform={`translate(${p.x},${p.y})`} className={`node ${n.kind}${n.id === graph.root ? ' root' : ''}`}>
            <rect width={BOX_W} height={BOX_H} rx={6} />
            <text x={8} y={17} className="kind">
              {n.kind.replace('_', ' ')}
            </text>
            <text x={8} y={34} className="label">
              {n.label.length > 26 ? `${n.label.slice(0, 25)}…` : n.label}
              <title>{n.ref ?? n.label}</title>
            </text>
          </g>
        );
        return link ? (
          <a key={n.id} href={link}>
            {box}
          </a>
        ) : (
          <g key={n.id}>{box}</g>
        );
      })}
    </svg>
  );
}
