/**
 * What a batch job reads from an mltable input. The MLTable file is validated as Azure ML's format
 * (src/specs: every error with its line), then checked against what the batch driver can read, and
 * its paths are resolved to the input's files here, so a bad MLTable is refused before any job
 * exists and the driver (python/lapis_batch/table.py) needs no YAML parser and no glob.
 */
import { invalid } from '../core/errors.js';
import { globBody } from '../core/glob.js';
import { loadSpec, MLTABLE_PATH_KINDS, type MLTableSpec, type MLTableTransformationSpec } from '../specs/index.js';

/** The reads the driver implements, and the reshaping steps after them. */
const READS = { read_delimited: 'delimited', read_parquet: 'parquet', read_json_lines: 'json_lines' } as const;
const STEPS = ['take', 'skip', 'drop_columns', 'keep_columns'] as const;
const SUPPORTED = `batch endpoints read ${Object.keys(READS).join(', ')} (one, first), then apply ${STEPS.join(', ')}`;

type Step = { take: number } | { skip: number } | { drop_columns: string[] } | { keep_columns: string[] };

/** The driver's view of the table (the JSON of BATCH_MLTABLE_PLAN). */
export interface TablePlan {
  /** The files read, in order, relative to the MLTable file's folder. */
  files: string[];
  read: { format: (typeof READS)[keyof typeof READS]; options: Record<string, unknown> };
  steps: Step[];
}

const DELIMITED_DEFAULTS = { delimiter: ',', header: 'all_files_same_headers', encoding: 'utf8', empty_as_string: false, include_path_column: false, infer_column_types: true };
const PARQUET_DEFAULTS = { include_path_column: false };
const JSON_LINES_DEFAULTS = { include_path_column: false, invalid_lines: 'error', encoding: 'utf8' };

/**
 * The plan of the MLTable `text` of an input whose files (relative to its root, where the MLTable
 * file is) are `files`. `what` names the input in messages. Throws INVALID_ARGUMENT listing every problem.
 */
export function tablePlan(text: string, files: readonly string[], what: string): TablePlan {
  const spec: MLTableSpec = loadSpec('mltable', text, { file: `${what}/MLTable` });
  const problems: string[] = [];
  const planFiles = resolvePaths(spec.paths, files.filter((f) => f !== 'MLTable'), problems);
  let read: TablePlan['read'] | undefined;
  const steps: Step[] = [];
  (spec.transformations ?? []).forEach((t, i) => {
    const [key, value] = Object.entries(t)[0] as [keyof MLTableTransformationSpec, unknown];
    const at = `transformations[${i}]`;
    if (key in READS) {
      if (read || steps.length > 0) problems.push(`${at}: ${key} must be the first and only read transformation (${SUPPORTED})`);
      const format = READS[key as keyof typeof READS];
      const defaults = format === 'delimited' ? DELIMITED_DEFAULTS : format === 'parquet' ? PARQUET_DEFAULTS : JSON_LINES_DEFAULTS;
      read = { format, options: { ...defaults, ...((value as Record<string, unknown> | null) ?? {}) } };
    } else if ((STEPS as readonly string[]).includes(key)) {
      steps.push({ [key]: typeof value === 'string' ? [value] : value } as Step);
    } else {
      problems.push(`${at}: ${key} is not supported: ${SUPPORTED}. Apply it in a scoring script instead (its run(mini_batch) gets a pandas DataFrame).`);
    }
  });
  if (!read) problems.push(`no read transformation: ${SUPPORTED}; add e.g. "- read_delimited: {header: all_files_same_headers}". To score the files themselves, invoke with --input-type uri_folder.`);
  if (problems.length > 0) {
    throw invalid(`${what}/MLTable cannot be scored by a batch endpoint (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
  return { files: planFiles, read: read as TablePlan['read'], steps };
}

/** The files each `paths` entry names (a folder's and a pattern's sorted), each once, in order. */
function resolvePaths(paths: MLTableSpec['paths'], files: readonly string[], problems: string[]): string[] {
  const out = new Set<string>();
  const sorted = [...files].sort();
  paths.forEach((entry, i) => {
    const kind = MLTABLE_PATH_KINDS.find((k) => entry[k] !== undefined) as (typeof MLTABLE_PATH_KINDS)[number];
    const raw = entry[kind] as string;
    const refuse = (message: string): void => void problems.push(`paths[${i}].${kind} '${raw}' ${message}`);
    if (/^[a-z][a-z0-9+.-]*:/i.test(raw)) return refuse(`is a URI; batch endpoints read only paths relative to the MLTable file's folder, within the data asset (e.g. ./data/*.csv)`);
    const path = raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    if (raw.startsWith('/') || path.split('/').includes('..')) return refuse(`leaves the MLTable file's folder; paths must stay inside it (e.g. ./data/*.csv)`);
    let found: string[];
    if (kind === 'file') found = sorted.filter((f) => f === path);
    else if (kind === 'folder') found = sorted.filter((f) => path === '' || path === '.' || f.startsWith(`${path}/`));
    else {
      const regex = new RegExp(`^${globBody(path)}$`);
      found = sorted.filter((f) => regex.test(f));
    }
    if (found.length === 0) {
      const isFolder = kind === 'file' && sorted.some((f) => f.startsWith(`${path}/`));
      const sample = sorted.slice(0, 8).join(', ') + (sorted.length > 8 ? `, … (${sorted.length} files)` : '');
      return refuse(isFolder ? "is a folder: use 'folder:'" : `matches no file (the files beside the MLTable file: ${sample || 'none'})`);
    }
    for (const f of found) out.add(f);
  });
  return [...out];
}
