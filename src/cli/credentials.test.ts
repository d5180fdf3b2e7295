import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { credentialsPath, removeCredential, serverKey, storeCredential, storedCredential, tokenIdOf, type StoredCredential } from './credentials.js';

let dir: string;
const saved = process.env.LAPIS_CONFIG_DIR;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lapis-creds-'));
  process.env.LAPIS_CONFIG_DIR = join(dir, 'nested', 'config');
});

afterEach(async () => {
  if (saved === undefined) delete process.env.LAPIS_CONFIG_DIR;
  else process.env.LAPIS_CONFIG_DIR = saved;
  await rm(dir, { recursive: true, force: true });
});

const credential = (token: string): StoredCredential => ({ token, token_id: tokenIdOf(token) ?? '', principal: 'ana', source: 'password', expires_at: null, stored_at: 1 });
const TOKEN_A = `lapis_tokAAAAAAAAAAAA_${'a'.repeat(43)}`;
const TOKEN_B = `lapis_tokBBBBBBBBBBBB_${'b'.repeat(43)}`;

describe('stored credentials', () => {
  it('keeps one token per server URL, in a 0600 file under LAPIS_CONFIG_DIR', async () => {
    expect(storedCredential('http://h:5050')).toBeUndefined();
    const path = storeCredential('http://h:5050/', credential(TOKEN_A));
    storeCredential('https://other/lapis', credential(TOKEN_B));
    expect(path).toBe(join(dir, 'nested', 'config', 'credentials.json'));
    expect(credentialsPath()).toBe(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(storedCredential('http://h:5050')?.token).toBe(TOKEN_A);
    expect(storedCredential('https://other/lapis/')?.token).toBe(TOKEN_B);
    expect(storedCredential('http://h:5050')?.token_id).toBe('tokAAAAAAAAAAAA');
    // No temporary files are left beside it.
    expect(await readdir(join(dir, 'nested', 'config'))).toEqual(['credentials.json']);
  });

  it('replaces the file whole, so a looser mode on the old one does not survive', async () => {
    const path = storeCredential('http://h', credential(TOKEN_A));
    const { chmod } = await import('node:fs/promises');
    await chmod(path, 0o644);
    storeCredential('http://h', credential(TOKEN_B));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(storedCredential('http://h')?.token).toBe(TOKEN_B);
  });

  it('removes one server and leaves the others', async () => {
    storeCredential('http://a', credential(TOKEN_A));
    storeCredential('http://b', credential(TOKEN_B));
    expect(removeCredential('http://a/')?.token).toBe(TOKEN_A);
    expect(removeCredential('http://a')).toBeUndefined();
    expect(storedCredential('http://b')?.token).toBe(TOKEN_B);
    expect(JSON.parse(await readFile(credentialsPath(), 'utf8'))).toMatchObject({ version: 1, servers: { 'http://b': { principal: 'ana' } } });
  });

  it('reports a damaged file with the fix', async () => {
    storeCredential('http://a', credential(TOKEN_A));
    await writeFile(credentialsPath(), '{ nope');
    expect(() => storedCredential('http://a')).toThrow(/damaged.*Delete it and run 'lapis login' again/);
  });

  it('normalizes server keys and reads token ids', () => {
    expect(serverKey('http://h:5050/?x=1#y')).toBe('http://h:5050');
    expect(serverKey('https://proxy/lapis/')).toBe('https://proxy/lapis');
    expect(tokenIdOf(TOKEN_A)).toBe('tokAAAAAAAAAAAA');
    expect(tokenIdOf('nope')).toBeUndefined();
  });
});
