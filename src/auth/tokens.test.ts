import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashSecret, newToken, parseDuration, parseToken, secretMatches } from './tokens.js';

describe('newToken', () => {
  it('is lapis_<id>_<secret> with a 15-char id and a 43-char base64url secret (32 bytes)', () => {
    const t = newToken();
    expect(t.token).toMatch(/^lapis_tok[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(t.token).toBe(`lapis_${t.id}_${t.secret}`);
    expect(Buffer.from(t.secret, 'base64url')).toHaveLength(32);
  });

  it('stores only the SHA-256 of the secret', () => {
    const t = newToken();
    expect(t.secretHash).toBe(createHash('sha256').update(t.secret).digest('hex'));
    expect(t.secretHash).toBe(hashSecret(t.secret));
    expect(t.secretHash).not.toContain(t.secret);
  });

  it('parses back into its own id and secret (secrets may contain _ and -)', () => {
    for (let i = 0; i < 200; i++) {
      const t = newToken();
      expect(parseToken(t.token)).toEqual({ id: t.id, secret: t.secret });
    }
  });

  it('is unique', () => {
    const tokens = new Set(Array.from({ length: 500 }, () => newToken().token));
    expect(tokens.size).toBe(500);
  });
});

describe('parseToken', () => {
  const good = newToken();
  const secret43 = 'a'.repeat(43);

  it.each([
    ['empty', ''],
    ['no prefix', `${good.id}_${good.secret}`],
    ['other prefix', `mlflow_${good.id}_${good.secret}`],
    ['upper-case prefix', `LAPIS_${good.id}_${good.secret}`],
    ['prefix only', 'lapis_'],
    ['no separator', 'lapis_tokABCDEFGHIJKL'],
    ['empty id', `lapis__${secret43}`],
    ['short junk', 'lapis_x_y'],
    ['id without tok', `lapis_abcABCDEFGHIJKL_${secret43}`],
    ['id too short', `lapis_tokABCDEFGHIJK_${secret43}`],
    ['id too long', `lapis_tokABCDEFGHIJKLM_${secret43}`],
    ['id with symbol', `lapis_tokABCDEFGHIJ-L_${secret43}`],
    ['secret too short', `lapis_${good.id}_${'a'.repeat(42)}`],
    ['secret too long', `lapis_${good.id}_${'a'.repeat(44)}`],
    ['secret with padding', `lapis_${good.id}_${'a'.repeat(42)}=`],
    ['secret with +', `lapis_${good.id}_${'a'.repeat(42)}+`],
    ['trailing space', `${good.token} `],
    ['leading space', ` ${good.token}`],
    ['newline inside', `lapis_${good.id}_${'a'.repeat(21)}\n${'a'.repeat(21)}`],
  ])('rejects %s', (_name, token) => {
    expect(parseToken(token)).toBeUndefined();
  });
});

describe('secretMatches', () => {
  it('accepts the right secret and rejects any other', () => {
    const t = newToken();
    expect(secretMatches(t.secret, t.secretHash)).toBe(true);
    expect(secretMatches(newToken().secret, t.secretHash)).toBe(false);
    // One character changed.
    const flipped = `${t.secret.slice(0, -1)}${t.secret.endsWith('A') ? 'B' : 'A'}`;
    expect(secretMatches(flipped, t.secretHash)).toBe(false);
    expect(secretMatches('', t.secretHash)).toBe(false);
  });

  it('returns false (does not throw) on a stored hash of the wrong length or encoding', () => {
    const t = newToken();
    expect(secretMatches(t.secret, '')).toBe(false);
    expect(secretMatches(t.secret, t.secretHash.slice(0, 62))).toBe(false);
    expect(secretMatches(t.secret, `${t.secretHash}00`)).toBe(false);
    expect(secretMatches(t.secret, 'not hex at all')).toBe(false);
  });
});

describe('parseDuration', () => {
  it.each([
    ['30d', 30 * 86_400_000],
    ['12h', 12 * 3_600_000],
    ['90m', 90 * 60_000],
    ['1m', 60_000],
    ['7', 7 * 86_400_000],
    [' 5 h ', 5 * 3_600_000],
    ['999999d', 999_999 * 86_400_000],
    ['0d', 0],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'd', '30s', '1w', '-1d', '1.5h', '30dd', '1000000d', '30 days', 'h12', '1e3'])('rejects %j with an example', (text) => {
    expect(() => parseDuration(text)).toThrow(/Invalid duration .*use e\.g\. 30d, 12h or 90m/);
  });
});
