import type { JsonNumber } from '../../../src/client/index.js';

export const fmtTime = (ms: number | null | undefined): string => (ms ? new Date(ms).toLocaleString() : '—');

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

/** Metric values: 4 significant digits, NaN and infinities as MLflow writes them. */
export function fmtNumber(v: JsonNumber | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

export const toNumber = (v: JsonNumber): number => (typeof v === 'number' ? v : Number(v));

export const fmtBytes = (n: number | undefined): string =>
  n === undefined ? '' : n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`;
