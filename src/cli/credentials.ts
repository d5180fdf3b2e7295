import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LapisError } from '../core/errors.js';

/**
 * Tokens stored by `lapis login`, one per server URL, in `~/.lapis/credentials.json`
 * (`$LAPIS_CONFIG_DIR/credentials.json` when set). The file is only ever replaced whole: written
 * to a fresh temporary file with mode 0600 beside it, flushed, then renamed over, so a crash
 * never leaves it half-written and it is never readable by others, not even for a moment.
 */
export interface StoredCredential {
  token: string;
  /** The token's id (the part of `lapis_<id>_<secret>` the server lists). */
  token_id: string;
  /** Who the token authenticates as. */
  principal: string;
  /** `password`: the CLI created the token at login (logout revokes it); `token`: given with --token. */
  source: 'password' | 'token';
  /** Epoch ms; null when it never expires or is not known. */
  expires_at: number | null;
  stored_at: number;
}

interface CredentialsFile {
  version: 1;
  /** Keyed by the server URL as the client normalizes it (no trailing slash). */
  servers: Record<string, StoredCredential>;
}

export function configDir(): string {
  const override = process.env.LAPIS_CONFIG_DIR;
  return override && override.trim() !== '' ? override : join(homedir(), '.lapis');
}

export function credentialsPath(): string {
  return join(configDir(), 'credentials.json');
}

/** The key a server's credentials are stored under: its URL without query, hash or trailing slash. */
export function serverKey(url: string): string {
  try {
    const u = new URL(url);
    u.search = '';
    u.hash = '';
    return u.href.replace(/\/+$/, '');
  } catch {
    return url.replace(/\/+$/, '');
  }
}

function readFile(): CredentialsFile {
  const path = credentialsPath();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, servers: {} };
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const servers = (data as { servers?: unknown } | undefined)?.servers;
  if (typeof servers !== 'object' || servers === null || Array.isArray(servers)) {
    throw new LapisError('INVALID_ARGUMENT', `The credentials file ${path} is damaged (not the JSON 'lapis login' writes). Delete it and run 'lapis login' again.`);
  }
  return { version: 1, servers: servers as Record<string, StoredCredential> };
}

function writeFile(file: CredentialsFile): void {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = credentialsPath();
  const temp = join(dir, `.credentials.json.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // 'wx': a new file, never one that exists (or a symlink planted there); 0600 from birth.
  const fd = openSync(temp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The umask cannot widen 0600, but a filesystem with odd defaults might: be explicit.
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

export function storedCredential(url: string): StoredCredential | undefined {
  const entry = readFile().servers[serverKey(url)];
  return entry && typeof entry.token === 'string' && entry.token !== '' ? entry : undefined;
}

export function storeCredential(url: string, credential: StoredCredential): string {
  const file = readFile();
  file.servers[serverKey(url)] = credential;
  writeFile(file);
  return credentialsPath();
}

/** Forgets the server's token; returns what was stored, if anything. */
export function removeCredential(url: string): StoredCredential | undefined {
  const file = readFile();
  const key = serverKey(url);
  const entry = file.servers[key];
  if (!entry) return undefined;
  delete file.servers[key];
  writeFile(file);
  return entry;
}

/** The id part of a `lapis_<id>_<secret>` token. */
export function tokenIdOf(token: string): string | undefined {
  return /^lapis_(tok[A-Za-z0-9]+)_/.exec(token)?.[1];
}
