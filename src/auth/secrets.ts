import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LapisError } from '../core/errors.js';

/**
 * Secrets at rest (datastore keys, endpoint keys) are sealed with AES-256-GCM under the server key:
 * `LAPIS_SERVER_KEY` (base64, 32 bytes) or a key file created on first start with mode 0600.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new LapisError('INVALID_ARGUMENT', 'The server key must be 32 bytes (base64 in LAPIS_SERVER_KEY).');
    this.#key = key;
  }

  static load(envKey: string | undefined, keyFile: string): SecretBox {
    if (envKey) return new SecretBox(Buffer.from(envKey, 'base64'));
    if (!existsSync(keyFile)) {
      mkdirSync(dirname(keyFile), { recursive: true });
      writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    }
    chmodSync(keyFile, 0o600);
    return new SecretBox(Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64'));
  }

  /** `v1.<iv>.<tag>.<ciphertext>`, base64url; the version leaves room for key rotation. */
  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || data === undefined) throw new LapisError('INTERNAL', 'A stored secret is malformed.');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new LapisError('INTERNAL', 'A stored secret cannot be decrypted: the server key differs from the one it was sealed with.');
    }
  }
}
