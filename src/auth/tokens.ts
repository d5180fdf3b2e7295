import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API tokens are `lapis_<id>_<secret>`: the id finds the row, the secret proves possession. Only a
 * SHA-256 of the secret is stored — the secret is 32 random bytes, so no slow hash is needed —
 * and it is compared in constant time. A token never carries a password.
 */
const PREFIX = 'lapis_';

export interface TokenParts {
  id: string;
  secret: string;
}

export function newToken(): { id: string; secret: string; token: string; secretHash: string } {
  const id = `tok${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`;
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `${PREFIX}${id}_${secret}`, secretHash: hashSecret(secret) };
}

export function parseToken(token: string): TokenParts | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  const rest = token.slice(PREFIX.length);
  const cut = rest.indexOf('_');
  if (cut <= 0) return undefined;
  const id = rest.slice(0, cut);
  const secret = rest.slice(cut + 1);
  if (!/^tok[A-Za-z0-9]{12}$/.test(id) || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return undefined;
  return { id, secret };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `30d`, `12h`, `90m` or a bare number of days → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,6})\s*([dhm]?)$/.exec(text.trim());
  if (!m) throw new Error(`Invalid duration '${text}': use e.g. 30d, 12h or 90m.`);
  const n = Number(m[1]);
  const unit = m[2] || 'd';
  return n * (unit === 'd' ? 86_400_000 : unit === 'h' ? 3_600_000 : 60_000);
}
