import { open } from 'node:fs/promises';

/** fsync of a file or a folder (Node only): its data, or the entries just created in it, are on disk. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
