import { open } from 'node:fs/promises';

/**
 * fsync of a file or a folder (Node only): its data, or the entries just created in it, are on disk.
 * The CLI's direct uploads use it too: it stays free of the server's modules.
 */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
