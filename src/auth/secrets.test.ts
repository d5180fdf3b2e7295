import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LapisError } from '../core/errors.js';
import { SecretBox } from './secrets.js';

const WRONG_KEY = 'A stored secret cannot be decrypted: the server key differs from the one it was sealed with.';

function caught(fn: () => unknown): LapisError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LapisError);
    return err as LapisError;
  }
  throw new Error('expected a LapisError, nothing was thrown');
}

describe('SecretBox', () => {
  it('seals and opens, with a fresh IV each time', () => {
    const box = new SecretBox(randomBytes(32));
    for (const text of ['', 's3cr3t', 'ünïcödé 🔑', 'x'.repeat(100_000)]) {
      const sealed = box.seal(text);
      expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]*$/);
      if (text.length > 0 && text.length < 1000) expect(sealed).not.toContain(text);
      expect(box.open(sealed)).toBe(text);
    }
    expect(box.seal('same')).not.toBe(box.seal('same'));
  });

  it('fails with the documented message under a different key', () => {
    const sealed = new SecretBox(randomBytes(32)).seal('datastore key');
    const err = caught(() => new SecretBox(randomBytes(32)).open(sealed));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toBe(WRONG_KEY);
  });

  it('fails on tampered ciphertext, tag or IV', () => {
    const box = new SecretBox(randomBytes(32));
    const [v, iv, tag, data] = box.seal('a secret worth tampering with').split('.') as [string, string, string, string];
    const flip = (b64: string): string => {
      const buf = Buffer.from(b64, 'base64url');
      buf[0] = (buf[0] as number) ^ 0x01;
      return buf.toString('base64url');
    };
    for (const sealed of [[v, iv, tag, flip(data)], [v, iv, flip(tag), data], [v, flip(iv), tag, data], [v, iv, tag, data.slice(0, -2)]]) {
      expect(caught(() => box.open(sealed.join('.'))).message).toBe(WRONG_KEY);
    }
  });

  it('rejects a malformed sealed value', () => {
    const box = new SecretBox(randomBytes(32));
    for (const bad of ['', 'v1', 'v1.a.b', 'v2.a.b.c', 'plain text']) {
      const err = caught(() => box.open(bad));
      expect(err.code).toBe('INTERNAL');
      expect(err.message).toBe('A stored secret is malformed.');
    }
  });

  it('refuses a key that is not 32 bytes', () => {
    for (const len of [0, 16, 31, 33, 64]) expect(caught(() => new SecretBox(randomBytes(len))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('SecretBox.load', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lapis-secrets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the key file with mode 0600 on first use, and reuses it', () => {
    const file = join(dir, 'server.key');
    const a = SecretBox.load(undefined, file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).toHaveLength(32);
    const sealed = a.seal('kept across restarts');
    expect(SecretBox.load(undefined, file).open(sealed)).toBe('kept across restarts');
    expect(SecretBox.load('', file).open(sealed)).toBe('kept across restarts');
  });

  it('tightens an existing key file to 0600', () => {
    const file = join(dir, 'server.key');
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o644 });
    SecretBox.load(undefined, file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('prefers LAPIS_SERVER_KEY and does not create a file then', () => {
    const key = randomBytes(32);
    const file = join(dir, 'server.key');
    const box = SecretBox.load(key.toString('base64'), file);
    expect(() => statSync(file)).toThrow();
    expect(new SecretBox(key).open(box.seal('from env'))).toBe('from env');
  });

  it('refuses an env key of the wrong length', () => {
    expect(caught(() => SecretBox.load(randomBytes(16).toString('base64'), join(dir, 'k'))).code).toBe('INVALID_ARGUMENT');
  });
});
