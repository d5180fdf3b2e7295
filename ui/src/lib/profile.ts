/** A column of a previewed table, summarised: numeric columns get min/mean/max, others their distinct values. */
export interface ColumnProfile {
  name: string;
  type: 'number' | 'text';
  count: number;
  missing: number;
  min?: number;
  max?: number;
  mean?: number;
  distinct: number;
  top?: { value: string; count: number }[];
}

export function profileColumns(columns: string[], rows: string[][]): ColumnProfile[] {
  return columns.map((name, c) => {
    const values = rows.map((r) => r[c] ?? '');
    const present = values.filter((v) => v.trim() !== '');
    const nums = present.map(Number);
    const numeric = present.length > 0 && nums.every(Number.isFinite);
    const counts = new Map<string, number>();
    for (const v of present) counts.set(v, (counts.get(v) ?? 0) + 1);
    const base = { name, count: values.length, missing: values.length - present.length, distinct: counts.size };
    if (numeric) {
      return { ...base, type: 'number' as const, min: Math.min(...nums), max: Math.max(...nums), mean: nums.reduce((a, b) => a + b, 0) / nums.length };
    }
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([value, count]) => ({ value, count }));
    return { ...base, type: 'text' as const, top };
  });
}
