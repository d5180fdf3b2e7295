import { describe, expect, it } from 'vitest';
import { checkPasswordStrength, hashPassword, verifyPassword } from './passwords.js';

// Each hash or verify costs one scrypt (N=2^15, r=8: 32 MiB, ~50–150 ms), so the cases share hashes.
describe('hashPassword / verifyPassword', () => {
  const password = 'correct horse battery staple';
  let stored: string;

  it('produces scrypt$N$r$p$salt$hash with a random salt', async () => {
    stored = await hashPassword(password);
    const parts = stored.split('$');
    expect(parts).toHaveLength(6);
    expect(parts.slice(0, 4)).toEqual(['scrypt', String(1 << 15), '8', '1']);
    expect(Buffer.from(parts[4] as string, 'base64url')).toHaveLength(16);
    expect(Buffer.from(parts[5] as string, 'base64url')).toHaveLength(32);
    expect(stored).not.toContain(password);
    const again = await hashPassword(password);
    expect(again).not.toBe(stored);
  });

  it('verifies the right password', async () => {
    expect(await verifyPassword(password, stored)).toBe(true);
  });

  it('rejects a wrong password, a near miss and the empty string', async () => {
    expect(await verifyPassword('correct horse battery stapler', stored)).toBe(false);
    expect(await verifyPassword('Correct horse battery staple', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('rejects a tampered hash (changed digest or salt)', async () => {
    const parts = stored.split('$');
    const hash = Buffer.from(parts[5] as string, 'base64url');
    hash[0] = (hash[0] as number) ^ 0x01;
    const tamperedHash = [...parts.slice(0, 5), hash.toString('base64url')].join('$');
    expect(await verifyPassword(password, tamperedHash)).toBe(false);

    const salt = Buffer.from(parts[4] as string, 'base64url');
    salt[3] = (salt[3] as number) ^ 0x80;
    const tamperedSalt = [...parts.slice(0, 4), salt.toString('base64url'), parts[5]].join('$');
    expect(await verifyPassword(password, tamperedSalt)).toBe(false);
  });

  it('rejects malformed stored values without throwing', async () => {
    for (const bad of ['', 'plain', 'bcrypt$10$8$1$c2FsdA$aGFzaA', 'scrypt$32768$8$1$$', 'scrypt$32768$8$1$c2FsdA']) {
      expect(await verifyPassword(password, bad), bad).toBe(false);
    }
  });

  it('normalizes to NFKC: composed and decomposed forms, and compatibility forms, verify alike', async () => {
    const composed = 'caf\u00e9-passphrase-\uff21'; // é precomposed, fullwidth Ａ
    const decomposed = 'cafe\u0301-passphrase-A'; // e + combining acute, plain A
    expect(composed).not.toBe(decomposed);
    expect(composed.normalize('NFKC')).toBe(decomposed.normalize('NFKC'));
    const h = await hashPassword(composed);
    expect(await verifyPassword(decomposed, h)).toBe(true);
    expect(await verifyPassword('cafe-passphrase-A', h)).toBe(false);
  });
});

describe('checkPasswordStrength', () => {
  it('accepts 12 characters or more', () => {
    expect(checkPasswordStrength('abcdefghijkl')).toBe('abcdefghijkl');
    expect(checkPasswordStrength('a long passphrase of words')).toBe('a long passphrase of words');
  });

  it('rejects short or non-string passwords with a reason', () => {
    for (const bad of ['', 'short', 'abcdefghijk', 123456789012, undefined, null]) {
      let caught: unknown;
      try {
        checkPasswordStrength(bad);
      } catch (err) {
        caught = err;
      }
      expect((caught as { reason?: string }).reason, String(bad)).toMatch(/at least 12 characters/);
    }
  });
});
