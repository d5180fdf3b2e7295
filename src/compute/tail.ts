import { open } from 'node:fs/promises';

/** The last `bytes` of a log file ('' when it does not exist): what a failure message quotes. */
export async function tail(path: string, bytes = 4096): Promise<string> {
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - bytes);
      const buf = Buffer.alloc(size - start);
      await handle.read(buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

const CHUNK = 64 * 1024;

/**
 * The last `lines` lines of a log file, read backwards in chunks so that a long-lived log costs
 * what is shown, not its size; with the file's size then, where reading on (`from`) starts.
 */
export async function tailLines(path: string, lines: number): Promise<{ text: string; size: number }> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { text: '', size: 0 };
  }
  try {
    const { size } = await handle.stat();
    const chunks: Buffer[] = [];
    let start = size;
    let newlines = 0;
    // One more newline than lines: the file's last line ends with one.
    while (start > 0 && newlines <= lines) {
      const at = Math.max(0, start - CHUNK);
      const buf = Buffer.alloc(start - at);
      await handle.read(buf, 0, buf.length, at);
      chunks.unshift(buf);
      for (const b of buf) if (b === 10) newlines += 1;
      start = at;
    }
    const all = Buffer.concat(chunks).toString('utf8').split('\n');
    return { text: all.slice(-lines - 1).join('\n'), size };
  } finally {
    await handle.close();
  }
}

/** What a log file holds from byte `offset` on (at most `limit` bytes), and where to read on; from 0 again if the file shrank. */
export async function readFrom(path: string, offset: number, limit = 1024 * 1024): Promise<{ text: string; next: number }> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { text: '', next: 0 };
  }
  try {
    const { size } = await handle.stat();
    const from = size < offset ? 0 : offset;
    const buf = Buffer.alloc(Math.min(limit, size - from));
    await handle.read(buf, 0, buf.length, from);
    // Whole lines only: the rest comes with the next read.
    const end = buf.length === size - from ? buf.length : buf.lastIndexOf(10) + 1 || buf.length;
    return { text: buf.subarray(0, end).toString('utf8'), next: from + end };
  } finally {
    await handle.close();
  }
}
