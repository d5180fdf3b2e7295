import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { LapisError } from '../client/index.js';
import type { DownloadProgress } from '../client/download.js';
import { uploadContent, type UploadResult } from '../client/upload.js';
import { loadSpec, parseAssetRef, type AssetKind, type SpecKind, type SpecOf } from '../specs/index.js';
import type { CommandContext } from './context.js';
import { configDir } from './credentials.js';
import { collect } from './context.js';
import { formatBytes, note } from './output.js';

/** Shared by `lapis data | environment | component | model`: YAML, local paths, references, uploads. */

export interface ScopeFlags {
  registry?: string;
  registryName?: string;
}

/** `--registry <name>`, and `--registry-name` (hidden) as `az ml` spells it. */
export function registryOptions(cmd: Command, help: string): Command {
  return cmd.addOption(new Option('--registry <name>', help)).addOption(new Option('--registry-name <name>').hideHelp());
}

export const registryOf = (opts: ScopeFlags): string | undefined => opts.registry ?? opts.registryName;

export const scopeOf = (registry: string | undefined): { registry?: string } => (registry ? { registry } : {});

/** `-f/--file` and repeatable `--set key.path=value`. */
export function specOptions(cmd: Command, kind: string): Command {
  return cmd
    .requiredOption('-f, --file <path>', `${kind} YAML file`)
    .addOption(new Option('--set <key=value>', "override a field of the YAML, e.g. --set version=2 or --set tags.stage=dev; repeatable").argParser(collect));
}

export const bad = (message: string, details?: Record<string, unknown>): LapisError => new LapisError('INVALID_ARGUMENT', message, details);

/** Reads and validates a spec file: every error at once with `file:line:col`; nothing is sent on error. */
export async function readSpec<K extends SpecKind>(kind: K, file: string, set: string[] | undefined): Promise<{ spec: SpecOf<K>; dir: string }> {
  const abs = resolve(file);
  const text = await readText(abs, `${kind} YAML`);
  return { spec: loadSpec(kind, text, { file, set: set ?? [] }), dir: dirname(abs) };
}

export async function readText(abs: string, what: string): Promise<string> {
  try {
    return await readFile(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw bad(`The ${what} file ${abs} does not exist.`, { path: abs });
    if (code === 'EISDIR') throw bad(`The ${what} file ${abs} is a folder; pass a file.`, { path: abs });
    throw err;
  }
}

const URI = /^[a-z][a-z0-9+.-]+:/i;

/** The absolute local path a spec path names, or undefined for a URI (`https:`, `azureml:`, `runs:`…). Relative paths start at the YAML's folder. */
export function localPathOf(path: string, dir: string): string | undefined {
  if (path.startsWith('file:')) return fileURLToPath(path);
  if (URI.test(path)) return undefined;
  return resolve(dir, path);
}

export type LocalKind = 'file' | 'folder';

/** Stats a local path a spec names; a missing one is bad input naming the resolved path. */
export async function localEntry(field: string, specPath: string, abs: string): Promise<LocalKind> {
  const s = await stat(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw err;
  });
  if (!s) throw bad(`${field} '${specPath}' does not exist: no file or folder at ${abs}.`, { path: abs });
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'folder';
  throw bad(`${field} '${specPath}' (${abs}) is neither a file nor a folder.`, { path: abs });
}

/** Uploads a local file or folder (Ctrl-C stops it: an unfinished upload is never committed, so no asset appears). */
export async function upload(ctx: CommandContext, abs: string, label: string, registry: string | undefined): Promise<UploadResult> {
  const interrupt = new AbortController();
  const onSigint = (): void => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    return await uploadContent(ctx.client, abs, { ...scopeOf(registry), label, log: note, signal: interrupt.signal, hashCache: join(configDir(), 'hash-cache.json') });
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
    note('error: upload interrupted; nothing was created.');
    process.exit(130);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

// ------------------------------------------------------------------ references

export interface Target {
  name: string;
  /** Undefined: the latest (non-archived) version. */
  version?: string;
  registry?: string;
}

export interface TargetFlags extends ScopeFlags {
  name?: string;
  version?: string;
  label?: string;
}

/**
 * What a command points at: a positional reference in any accepted form (`n:v`, `n@latest`,
 * `azureml:n:v`, `azureml://registries/<r>/<kind>/<n>/versions/<v>`, a bare name for the latest)
 * or `--name/--version` as in `az ml`, plus `--registry`.
 */
export function targetOf(kind: AssetKind, ref: string | undefined, flags: TargetFlags): Target {
  const flagRegistry = registryOf(flags);
  if (flags.label !== undefined && flags.label !== 'latest') throw bad(`Only the label 'latest' is supported (got '${flags.label}').`);
  if (flags.label !== undefined && flags.version !== undefined) throw bad('Give --version or --label latest, not both.');
  let target: Target;
  if (ref !== undefined) {
    if (flags.name !== undefined) throw bad(`Give the ${noun(kind)} as '${ref}' or as --name, not both.`);
    const parsed = parseAssetRef(ref, kind);
    target = { name: parsed.name, ...(parsed.version !== undefined ? { version: parsed.version } : {}), ...(parsed.registry ? { registry: parsed.registry } : {}) };
    if (flags.version !== undefined) {
      if (target.version !== undefined && target.version !== flags.version) throw bad(`'${ref}' names version ${target.version} but --version says ${flags.version}.`);
      target.version = flags.version;
    }
  } else if (flags.name !== undefined) {
    target = { name: flags.name, ...(flags.version !== undefined ? { version: flags.version } : {}) };
  } else {
    throw bad(`Name the ${noun(kind)}: <name>:<version>, <name>@latest, or --name <name> [--version <v>].`);
  }
  if (flagRegistry) {
    if (target.registry && target.registry !== flagRegistry) throw bad(`The reference points at registry '${target.registry}' but --registry says '${flagRegistry}'.`);
    target.registry = flagRegistry;
  }
  return target;
}

/** A target that must name a version (archive, restore). */
export function versionOf(kind: AssetKind, target: Target, verb: string): string {
  if (target.version === undefined) throw bad(`Name the version to ${verb}: lapis ${noun(kind)} ${verb} ${target.name}:<version> (or --version <v>).`);
  return target.version;
}

export function noun(kind: AssetKind): string {
  return kind === 'data' ? 'data' : kind === 'environments' ? 'environment' : kind === 'components' ? 'component' : 'model';
}

/** `--name`, `--version`, `--label` on commands that take a reference. */
export function targetOptions(cmd: Command): Command {
  return cmd
    .option('-n, --name <name>', 'asset name (instead of the positional reference)')
    .option('-v, --version <version>', 'asset version (default: the latest)')
    .addOption(new Option('-l, --label <label>', "'latest': the newest non-archived version").choices(['latest']));
}

/** A `\r`-rewritten download progress line on stderr, at most ten updates a second. */
export function downloadProgressLine(): { update: (p: DownloadProgress) => void; done: () => void } {
  let last = 0;
  let shown = false;
  const start = Date.now();
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100 && p.files < p.totalFiles) return;
      last = now;
      shown = true;
      const pct = p.totalBytes > 0 ? ` (${Math.floor((p.bytes / p.totalBytes) * 100)}%)` : '';
      const rate = formatBytes(Math.round(p.bytes / Math.max((now - start) / 1000, 0.001)));
      process.stderr.write(`\r\x1b[KDownloading: ${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}${pct}, ${rate}/s, ${p.files}/${p.totalFiles} files`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

/** Runs a download with Ctrl-C handling and a progress line; interrupted downloads leave no partial files. */
export async function withDownload<T>(run: (opts: { signal: AbortSignal; onProgress?: (p: DownloadProgress) => void }) => Promise<T>): Promise<T> {
  const bar = process.stderr.isTTY ? downloadProgressLine() : undefined;
  const interrupt = new AbortController();
  const onSigint = (): void => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    return await run({ signal: interrupt.signal, ...(bar ? { onProgress: bar.update } : {}) });
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
    bar?.done();
    note('error: download interrupted; incomplete files were removed.');
    return process.exit(130);
  } finally {
    bar?.done();
    process.off('SIGINT', onSigint);
  }
}

