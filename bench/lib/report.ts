import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * The results table every bench prints and writes: the first column (the figure's name) and the
 * fifth (the target) are left-aligned, the numbers right-aligned.
 */
type Row<R> = { [K in keyof R]: string };

const LEFT = (i: number): boolean => i === 0 || i === 4;

export function textTable<R extends Row<R>>(head: R, table: readonly R[]): string {
  const cols = Object.keys(head) as (keyof R)[];
  const all = [head, ...table];
  const width = cols.map((c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: R): string => cols.map((c, i) => (LEFT(i) ? r[c].padEnd(width[i] as number) : r[c].padStart(width[i] as number))).join(' | ');
  return [line(head), width.map((w) => '-'.repeat(w)).join('-+-'), ...table.map(line)].join('\n');
}

export function markdownTable<R extends Row<R>>(head: R, table: readonly R[]): string {
  const cols = Object.keys(head) as (keyof R)[];
  const line = (r: R): string => `| ${cols.map((c) => r[c] || ' ').join(' | ')} |`;
  return [line(head), `|${cols.map((_, i) => (LEFT(i) ? ' --- ' : ' ---: ')).join('|')}|`, ...table.map(line)].join('\n');
}

const DOCS_HEADER = '# Benchmarks\n\nMeasured on one machine with the scripts in `bench/`; each section says how it was run and can be regenerated with its npm script.\n';

/** Replaces (or appends) the `## <heading>` section of the benchmarks document, leaving the others. */
export function writeDocsSection(docsPath: string, heading: string, section: string): void {
  let text = existsSync(docsPath) ? readFileSync(docsPath, 'utf8') : DOCS_HEADER;
  const start = text.search(new RegExp(`^## ${heading}\\b.*$`, 'm'));
  if (start >= 0) {
    const rest = text.slice(start + 1);
    const next = rest.search(/^## /m);
    text = text.slice(0, start) + section.trimEnd() + '\n' + (next >= 0 ? '\n' + rest.slice(next) : '');
  } else {
    text = text.trimEnd() + '\n\n' + section.trimEnd() + '\n';
  }
  writeFileSync(docsPath, text);
}
