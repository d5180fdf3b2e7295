import { LapisError } from '../core/errors.js';

/** One URL path segment (a name), encoded; refused when empty. */
export function segment(what: string, value: string): string {
  if (typeof value !== 'string' || value === '') throw new LapisError('INVALID_ARGUMENT', `Missing ${what}: pass a non-empty string.`);
  return encodeURIComponent(value);
}

/** A `/`-separated file path, each segment encoded; refused when empty. */
export function filePath(path: string, what = 'file path'): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') throw new LapisError('INVALID_ARGUMENT', `Missing ${what}.`);
  return trimmed.split('/').map(encodeURIComponent).join('/');
}
