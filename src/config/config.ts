import { readFileSync, existsSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { LapisError } from '../core/errors.js';

/**
 * The one config schema. Each setting has a doc line, a default, an env variable and a parser;
 * resolution is defaults < lapis.yaml < LAPIS_* env < flags, and every problem is reported at once.
 */
export interface LapisConfig {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly backendStoreUri: string;
  readonly artifactsDestination: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly maxRequestBytes: number;
  readonly auth: 'off' | 'on';
  readonly rateLimitPerMinute: number;
  readonly python: string;
  readonly localSlots: number;
  readonly jobCacheDir: string;
}

type Raw = Partial<Record<keyof LapisConfig, unknown>>;

interface Setting<K extends keyof LapisConfig> {
  doc: string;
  env: string;
  yamlKey: string;
  parse(value: unknown): LapisConfig[K];
}

const str = (value: unknown): string => {
  if (typeof value !== 'string' || value.trim() === '') throw new Error('expected a non-empty string');
  return value;
};

const int = (min: number, max: number) => (value: unknown): number => {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new Error(`expected an integer from ${min} to ${max}`);
  return n;
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const SETTINGS: { [K in keyof LapisConfig]: Setting<K> } = {
  dataDir: { doc: 'Folder holding the embedded database and artifacts.', env: 'LAPIS_DATA_DIR', yamlKey: 'data_dir', parse: (v) => resolve(str(v)) },
  host: { doc: 'Address to listen on. Keep 127.0.0.1 unless authentication is on.', env: 'LAPIS_HOST', yamlKey: 'host', parse: str },
  port: { doc: 'Port to listen on (0 picks a free one).', env: 'LAPIS_PORT', yamlKey: 'port', parse: int(0, 65535) },
  backendStoreUri: {
    doc: 'Metadata database: sqlite:///path/to/lapis.db or postgresql://user:pass@host:5432/db.',
    env: 'LAPIS_BACKEND_STORE_URI',
    yamlKey: 'backend_store_uri',
    parse: (v) => {
      const s = str(v);
      if (!/^(sqlite:|postgres(ql)?:)/.test(s)) throw new Error('expected sqlite:///path or postgresql://…');
      return s;
    },
  },
  artifactsDestination: {
    doc: 'Artifact store: file:///path, an absolute path, or s3://bucket/prefix.',
    env: 'LAPIS_ARTIFACTS_DESTINATION',
    yamlKey: 'artifacts_destination',
    parse: (v) => {
      const s = str(v);
      if (s.startsWith('/')) return pathToFileURL(s).href;
      if (!/^(file|s3):/.test(s)) throw new Error('expected file:///path, an absolute path or s3://bucket/prefix');
      return s;
    },
  },
  logLevel: {
    doc: 'Log level of the structured (JSON) server log.',
    env: 'LAPIS_LOG_LEVEL',
    yamlKey: 'log_level',
    parse: (v) => {
      const s = str(v);
      if (!(LOG_LEVELS as readonly string[]).includes(s)) throw new Error(`expected one of ${LOG_LEVELS.join(', ')}`);
      return s as LapisConfig['logLevel'];
    },
  },
  auth: {
    doc: "Authentication: 'off' (single-user: every local caller is the admin; loopback only) or 'on' (tokens, passwords, roles).",
    env: 'LAPIS_AUTH',
    yamlKey: 'auth',
    parse: (v) => {
      const s = str(v);
      if (s !== 'on' && s !== 'off') throw new Error("expected 'on' or 'off'");
      return s;
    },
  },
  rateLimitPerMinute: { doc: 'API requests a minute per principal before 429 (0 = unlimited).', env: 'LAPIS_RATE_LIMIT', yamlKey: 'rate_limit_per_minute', parse: int(0, 10_000_000) },
  python: { doc: 'Python interpreter for job task runners, host-Python jobs, and as the base of job environments.', env: 'LAPIS_PYTHON', yamlKey: 'python', parse: str },
  localSlots: { doc: "Slots of the built-in 'local' compute target: jobs beyond them wait in the queue.", env: 'LAPIS_LOCAL_SLOTS', yamlKey: 'local_slots', parse: int(1, 1024) },
  jobCacheDir: {
    doc: 'Folder for code snapshots and job environments (virtualenvs), shared by every job of this machine.',
    env: 'LAPIS_JOB_CACHE',
    yamlKey: 'job_cache_dir',
    parse: (v) => resolve(str(v)),
  },
  maxRequestBytes: { doc: 'Largest JSON request body accepted, in bytes.', env: 'LAPIS_MAX_REQUEST_BYTES', yamlKey: 'max_request_bytes', parse: int(1024, 1 << 30) },
};

function defaults(dataDir: string): Raw {
  return {
    dataDir,
    host: '127.0.0.1',
    port: 5050,
    backendStoreUri: `sqlite:///${join(dataDir, 'lapis.db')}`,
    artifactsDestination: pathToFileURL(join(dataDir, 'artifacts')).href,
    logLevel: 'info',
    maxRequestBytes: 16 * 1024 * 1024,
    auth: 'off',
    rateLimitPerMinute: 0,
    python: 'python3',
    localSlots: availableParallelism(),
    jobCacheDir: join(dataDir, 'cache'),
  };
}

function fromYaml(path: string): Raw {
  const doc = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown> | null;
  const out: Raw = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [keyof LapisConfig, Setting<keyof LapisConfig>][]) {
    if (doc && setting.yamlKey in doc) out[key] = doc[setting.yamlKey];
  }
  return out;
}

function fromEnv(env: NodeJS.ProcessEnv): Raw {
  const out: Raw = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [keyof LapisConfig, Setting<keyof LapisConfig>][]) {
    const value = env[setting.env];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

/** Resolves the config; throws one LapisError listing every invalid setting. */
export function loadConfig(flags: Raw = {}, env: NodeJS.ProcessEnv = process.env): LapisConfig {
  const envRaw = fromEnv(env);
  const dataDirRaw = flags.dataDir ?? envRaw.dataDir ?? join(homedir(), '.lapis');
  const yamlPath = env.LAPIS_CONFIG ?? join(String(dataDirRaw), 'lapis.yaml');
  const yamlRaw = existsSync(yamlPath) ? fromYaml(yamlPath) : {};
  const dataDir = resolve(String(flags.dataDir ?? envRaw.dataDir ?? yamlRaw.dataDir ?? dataDirRaw));
  const merged: Raw = { ...defaults(dataDir), ...yamlRaw, ...envRaw, ...stripUndefined(flags) };
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [keyof LapisConfig, Setting<keyof LapisConfig>][]) {
    try {
      out[key] = setting.parse(merged[key]);
    } catch (err) {
      problems.push(`${setting.yamlKey} (${setting.env}) = ${JSON.stringify(merged[key])}: ${(err as Error).message}. ${setting.doc}`);
    }
  }
  if (problems.length > 0) {
    throw new LapisError('INVALID_ARGUMENT', `Invalid configuration:\n  - ${problems.join('\n  - ')}`, { problems });
  }
  return Object.freeze(out) as unknown as LapisConfig;
}

function stripUndefined(raw: Raw): Raw {
  return Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) as Raw;
}
