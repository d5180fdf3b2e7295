import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashCache } from './hash-cache.js';

describe('HashCache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lapis-hash-cache-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers for the same version of a file across loads, never for a rewritten one', async () => {
    const file = join(dir, 'a.bin');
    const cachePath = join(dir, 'cache', 'hash-cache.json');
    await writeFile(file, 'one');
    const first = await HashCache.load(cachePath);
    const v1 = await stat(file, { bigint: true });
    expect(first.get(v1)).toBeUndefined();
    // Read right after it was written: too fresh to remember (a write in the same clock tick would not show).
    first.set(v1, 'a'.repeat(64));
    expect(first.get(v1)).toBeUndefined();
    // Read 10 s later (as if): remembered.
    first.set(v1, 'a'.repeat(64), Date.now() + 10_000);
    await first.save();
    expect((await stat(cachePath)).mode & 0o777).toBe(0o600);

    const again = await HashCache.load(cachePath);
    expect(again.get(await stat(file, { bigint: true }))).toBe('a'.repeat(64));
    // Same size, new bytes: the change time moves, so the entry no longer matches.
    await writeFile(file, 'two');
    const v2 = await stat(file, { bigint: true });
    expect(v2.size).toBe(v1.size);
    expect(again.get(v2)).toBeUndefined();
  });

  it('starts empty from a missing or damaged file, and a save that cannot be written is skipped', async () => {
    const damaged = join(dir, 'damaged.json');
    await writeFile(damaged, '{ not json');
    const file = join(dir, 'f');
    await writeFile(file, 'x');
    const s = await stat(file, { bigint: true });
    expect((await HashCache.load(damaged)).get(s)).toBeUndefined();
    expect((await HashCache.load(join(dir, 'missing.json'))).get(s)).toBeUndefined();

    // A file where the cache's folder should be: saving fails quietly, the damaged file is untouched.
    const blocked = await HashCache.load(join(damaged, 'hash-cache.json'));
    blocked.set(s, 'b'.repeat(64), Date.now() + 10_000);
    await expect(blocked.save()).resolves.toBeUndefined();
    expect(await readFile(damaged, 'utf8')).toBe('{ not json');
  });
});
