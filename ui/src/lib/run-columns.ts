import type { JsonNumber, Run } from '../../../src/client/index.js';

/** `metrics.loss`, `params.alpha`, `tags.team`: a column the user picked, named as in the search grammar. */
export type DataColumn = `${'metrics' | 'params' | 'tags'}.${string}`;

export function parseColumns(raw: string | null): DataColumn[] {
  if (!raw) return [];
  return raw.split(',').filter((c): c is DataColumn => /^(metrics|params|tags)\..+/.test(c));
}

export function valueOf(run: Run, column: DataColumn): JsonNumber | string | undefined {
  const dot = column.indexOf('.');
  const kind = column.slice(0, dot);
  const key = column.slice(dot + 1);
  const list = kind === 'metrics' ? run.data.metrics : kind === 'params' ? run.data.params : run.data.tags;
  return list.find((e) => e.key === key)?.value;
}

/** Keys found in some runs, as columns: metrics, then params, then (non-system) tags. */
export function availableColumns(runs: Run[]): DataColumn[] {
  const m = new Set<string>();
  const p = new Set<string>();
  const t = new Set<string>();
  for (const r of runs) {
    r.data.metrics.forEach((e) => m.add(e.key));
    r.data.params.forEach((e) => p.add(e.key));
    r.data.tags.forEach((e) => !e.key.startsWith('mlflow.') && t.add(e.key));
  }
  const sorted = (s: Set<string>, kind: string) => [...s].sort().map((k) => `${kind}.${k}` as DataColumn);
  return [...sorted(m, 'metrics'), ...sorted(p, 'params'), ...sorted(t, 'tags')];
}

/** The order-by for a column (search grammar quotes keys that are not plain identifiers). */
export function orderKey(column: string): string {
  const dot = column.indexOf('.');
  const key = column.slice(dot + 1);
  return /^[A-Za-z_][\w.]*$/.test(key) ? column : `${column.slice(0, dot)}.\`${key}\``;
}
