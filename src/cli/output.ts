import Table from 'cli-table3';
import { CommanderError } from 'commander';
import YAML from 'yaml';
import { LapisError } from '../core/errors.js';

/**
 * How commands print: `table` for people, `json` / `yaml` for scripts (exactly the API objects;
 * lists print as arrays of them). Data goes to stdout; notes, progress and errors go to stderr.
 */
export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function print(format: OutputFormat, data: unknown, human: () => string): void {
  const text = format === 'json' ? JSON.stringify(data, null, 2) : format === 'yaml' ? YAML.stringify(data, { lineWidth: 0 }) : human();
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** A note for the person at the terminal (stderr, so it never mixes with data). */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

/** Aligned columns under headings, no borders (like `kubectl get`). */
export function table(head: string[], rows: string[][], indent = ''): string {
  const t = new Table({ head, chars: BORDERLESS, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 } });
  t.push(...rows.map((r) => r.map(oneLine)));
  return t
    .toString()
    .split('\n')
    .map((line) => `${indent}${line}`.trimEnd())
    .join('\n');
}

/** `Label   value` lines, labels aligned. */
export function fields(rows: [string, string][], indent = '  '): string {
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${`${k}:`.padEnd(width + 3)}${oneLine(v)}`.trimEnd()).join('\n');
}

const oneLine = (v: string): string => v.replace(/\r?\n/g, ' ⏎ ');

export function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Epoch milliseconds as local ISO time, `2024-05-01 14:03:22`. */
export function formatTime(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '-';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** `850ms`, `42s`, `1m 12s`, `3h 05m`, `2d 4h`: the two largest units. */
export function formatDuration(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * Exit codes scripts can trust: 0 ok, 2 bad input (any 4xx, or a bad flag), 3 not found,
 * 4 server unreachable, 1 anything else.
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof LapisError) {
    if (err.code === 'UNAVAILABLE') return 4;
    if (err.status === 404) return 3;
    return err.status < 500 ? 2 : 1;
  }
  return 1;
}

/** One `error: <message>` on stderr (commander has already printed its own parse errors). */
export function reportError(err: unknown): void {
  if (err instanceof CommanderError) return;
  // System errors (EACCES, ENOSPC…) say enough in their message; anything else is a bug: show where.
  const system = err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
  const message = err instanceof LapisError || system ? (err as Error).message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`error: ${message}\n`);
}
