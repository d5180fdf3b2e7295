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
