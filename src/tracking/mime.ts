/**
 * Content types for artifact downloads, by extension, as MLflow's artifact server sends them
 * (`MLmodel` and other extension-less text files are text/plain).
 */
const TYPES: Record<string, string> = {
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  yaml: 'text/plain',
  yml: 'text/plain',
  json: 'application/json',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  html: 'text/html',
  htm: 'text/html',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  webp: 'image/webp',
  pdf: 'application/pdf',
  pkl: 'application/octet-stream',
  parquet: 'application/octet-stream',
  onnx: 'application/octet-stream',
  gz: 'application/gzip',
  zip: 'application/zip',
  py: 'text/x-python',
};

const TEXT_NAMES = new Set(['MLmodel', 'MLproject', 'LICENSE', 'README', 'Dockerfile']);

export function lookup(path: string): string {
  const base = path.split('/').pop() ?? path;
  if (TEXT_NAMES.has(base)) return 'text/plain';
  const dot = base.lastIndexOf('.');
  if (dot < 0) return 'application/octet-stream';
  return TYPES[base.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}
