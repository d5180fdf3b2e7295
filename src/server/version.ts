import { readFileSync } from 'node:fs';

/** Lapis's own version, from package.json. */
export const LAPIS_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The MLflow server version Lapis answers on /version. MLflow 3 clients gate features on it
 * (span logging needs ≥ 3.4), so it names the MLflow release whose REST API Lapis implements.
 */
export const MLFLOW_COMPAT_VERSION = '3.17.2';
