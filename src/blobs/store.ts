import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { invalid, type LapisError } from '../core/errors.js';

/** One immediate child of a listed prefix. `path` is its name relative to that prefix. */
export interface BlobEntry {
  path: string;
  isDir: boolean;
  size?: number;
}

export interface BlobStat {
  size: number;
  isDir: boolean;
}

/** A byte range; both ends inclusive, as in an HTTP `Range: bytes=start-end` header. */
export interface ByteRange {
  start: number;
  end?: number;
}

export type BlobBody = NodeJS.ReadableStream | Buffer | string;

export interface BlobStore {
  readonly uri: string;
  /** Streams body to key; atomic: a reader never sees a partial object. Returns bytes written. */
  put(key: string, body: BlobBody): Promise<{ size: number }>;
  /** A readable stream of the object; throws LapisError NOT_FOUND if absent. */
  get(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream>;
  /** A "directory" is a prefix with objects under it. */
  stat(key: string): Promise<BlobStat | null>;
  /** Immediate children of prefix ('' = root), sorted by path; dirs have no size. */
  list(prefix: string): Promise<BlobEntry[]>;
  /** All files under prefix ('' = root), paths relative to prefix, in no particular order. */
  listRecursive(prefix: string): AsyncIterable<{ path: string; size: number }>;
  /** A file, or everything under a prefix; missing is not an error. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
  /** Direct writes by clients on the store's own machine; only a local filesystem store has them. */
  readonly staging?: BlobStaging;
}

/**
 * A client that can write the store's folder copies files into a private staging folder itself
 * (a kernel copy, no HTTP, no second pass over the bytes on the server), then the server publishes
 * them under their keys. Such a client could write the stored objects directly, so its files are
 * trusted as written: what is checked is their shape (regular files of the declared sizes).
 */
export interface BlobStaging {
  /** A new staging folder (mode 0700), and a token file beside it that proves a client sees this filesystem. */
  open(): Promise<StagedUpload>;
  /**
   * Moves staged files (their `/`-separated paths inside the folder) to their keys, each one
   * fsynced, then removes the folder. Every file is checked before the first one moves.
   */
  publish(id: string, files: readonly { path: string; key: string; size: number }[]): Promise<void>;
  /** Removes a staging folder and what is in it; an unknown id is not an error. */
  discard(id: string): Promise<void>;
}

export interface StagedUpload {
  id: string;
  /** Absolute path of the folder the client writes the files into. */
  dir: string;
  /** Absolute path of a file holding `token`. */
  tokenFile: string;
  token: string;
}

export interface S3StoreOptions {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
}

export interface BlobStoreOptions {
  s3?: S3StoreOptions;
}

/**
 * Opens the store an artifact URI names: `file:///abs/path` or a bare absolute path for the local
 * filesystem, `s3://bucket/prefix` for S3 and S3-compatible servers.
 */
export async function openBlobStore(uri: string, options: BlobStoreOptions = {}): Promise<BlobStore> {
  if (uri.startsWith('s3://')) {
    const { bucket, prefix } = parseS3Uri(uri);
    // Loaded on demand so a filesystem-only deployment never pays for loading the AWS SDK.
    const { openS3BlobStore } = await import('./s3.js');
    return openS3BlobStore(bucket, prefix, options.s3 ?? {});
  }
  const { openFsBlobStore } = await import('./fs.js');
  return openFsBlobStore(fsRootOf(uri));
}

function fsRootOf(uri: string): string {
  if (uri.startsWith('file:')) {
    try {
      return fileURLToPath(uri);
    } catch (err) {
      throw invalid(`Invalid artifact URI '${uri}': ${(err as Error).message}. Use file:///absolute/path.`);
    }
  }
  if (isAbsolute(uri)) return uri;
  throw invalid(`Unsupported artifact URI '${uri}': use file:///absolute/path, an absolute path, or s3://bucket/prefix.`);
}

function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const rest = uri.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const rawPrefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  if (bucket === '') throw invalid(`Invalid artifact URI '${uri}': the bucket name is missing. Use s3://bucket/prefix.`);
  return { bucket, prefix: rawPrefix === '' ? '' : checkKey(rawPrefix) };
}

/** Validates each part with checkKey, then joins them with '/'. */
export function joinKey(...parts: string[]): string {
  return parts.map(checkKey).join('/');
}

// Enough for any legitimate double or triple encoding; deeper nesting is refused, not guessed at.
const MAX_DECODE_ROUNDS = 8;

/**
 * Returns the normalised key ('.' segments and a trailing '/' dropped), or throws INVALID_ARGUMENT.
 * The key is also checked in every percent-decoded form, because a proxy, a client library or a
 * later `decodeURIComponent` may decode it before it reaches a filesystem path.
 */
export function checkKey(key: string): string {
  if (typeof key !== 'string') throw invalid(`Invalid artifact path: expected a string, got ${typeof key}.`);
  const normalised = checkForm(key, key);
  let current = key;
  for (let round = 0; ; round++) {
    const decoded = percentDecode(current);
    if (decoded === current) break;
    if (round === MAX_DECODE_ROUNDS) {
      throw invalid(`Invalid artifact path '${key}': it is percent-encoded too many times; send the path decoded.`);
    }
    checkForm(decoded, key);
    current = decoded;
  }
  return normalised;
}

/** Decodes every %XX escape, leniently (like Python's `unquote`), so a stray '%' cannot shield the rest. */
function percentDecode(value: string): string {
  return value.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

function checkForm(form: string, original: string): string {
  const bad = (what: string, fix: string): never => {
    throw invalid(`Invalid artifact path '${original}': ${what}; ${fix}.`, { path: original });
  };
  const hint = 'use a relative path like "dir/file.txt"';
  if (form.includes('\0')) bad('it contains a NUL character', 'remove it');
  if (form.includes('\\')) bad("it contains a backslash", "separate directories with '/'");
  if (/%(2f|5c)/i.test(form)) bad("it contains an encoded separator (%2F or %5C)", "write '/' literally to separate directories");
  if (form.startsWith('/')) bad('it is absolute', hint);
  if (/^[a-zA-Z]:/.test(form)) bad('it starts with a drive letter', hint);
  const segments = form.split('/');
  // A single trailing '/' only marks a directory; everywhere else an empty segment would make
  // 'a//b' and 'a/b' different S3 keys but the same file.
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  if (segments.includes('..')) bad("it contains a '..' segment", 'paths cannot leave the artifact root');
  if (segments.includes('')) bad("it contains an empty segment ('//')", "remove the repeated '/'");
  const kept = segments.filter((s) => s !== '.');
  if (kept.length === 0) bad('it is empty', hint);
  return kept.join('/');
}

/** '' (the root) or a checked key: the argument of list and listRecursive. */
export function checkPrefix(prefix: string): string {
  return prefix === '' ? '' : checkKey(prefix);
}

/** Validates a byte range before any I/O; the upper bound is checked against the object's size by each backend. */
export function checkRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw invalid(`Invalid byte range: start must be a non-negative integer, got ${start}.`);
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw invalid(`Invalid byte range: end must be an integer >= start (${start}), got ${end}.`);
  }
}

export function rangeNotSatisfiable(key: string, range: ByteRange, size?: number): LapisError {
  const of = size === undefined ? '' : ` of ${size} bytes`;
  return invalid(`Byte range starting at ${range.start} is beyond the end of '${key}'${of}; request a start below the object size.`);
}

/** A stored object read whole as UTF-8 text: for small files (MLmodel, MLTable). */
export async function readText(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}
