/**
 * Runs `work` over `items`, `limit` at a time; the first failure stops the rest (no new item
 * starts, the signal handed to running ones aborts) and is thrown.
 */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T, signal: AbortSignal) => Promise<void>, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const controller = new AbortController();
  const stop = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', stop, { once: true });
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && !controller.signal.aborted && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item, controller.signal);
      } catch (error) {
        failure ??= { error };
        controller.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  if (failure) throw failure.error;
  signal?.throwIfAborted();
}
