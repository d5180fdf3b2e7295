import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFrom, tailLines } from './tail.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lapis-tail-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tailLines', () => {
  it('gives the last lines of a file larger than its read chunk, and the size to read on from', async () => {
    const path = join(dir, 'big.log');
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`);
    await writeFile(path, `${lines.join('\n')}\n`);
    const { text, size } = await tailLines(path, 3);
    expect(text.split('\n').filter(Boolean)).toEqual(lines.slice(-3));
    expect(size).toBe(Buffer.byteLength(`${lines.join('\n')}\n`));
    expect((await tailLines(path, 50_000)).text.split('\n').filter(Boolean)).toHaveLength(20_000);
    expect(await tailLines(join(dir, 'missing.log'), 3)).toEqual({ text: '', size: 0 });
  });
});

describe('readFrom', () => {
  it('reads what was appended since an offset, whole lines only when capped, from 0 after a truncation', async () => {
    const path = join(dir, 'grow.log');
    await writeFile(path, 'one\ntwo\n');
    const first = await readFrom(path, 0);
    expect(first).toEqual({ text: 'one\ntwo\n', next: 8 });
    await appendFile(path, 'three\nfour\n');
    expect(await readFrom(path, first.next)).toEqual({ text: 'three\nfour\n', next: 19 });
    expect(await readFrom(path, 8, 8)).toEqual({ text: 'three\n', next: 14 });
    await writeFile(path, 'new\n');
    expect(await readFrom(path, 19)).toEqual({ text: 'new\n', next: 4 });
  });
});
