import { useCallback, useEffect, useRef, useState } from 'react';

export type Async<T> = { status: 'loading'; data?: T; error?: undefined } | { status: 'ok'; data: T; error?: undefined } | { status: 'error'; data?: T; error: Error };

/**
 * Runs `load` when `deps` change (the previous call is aborted) and tracks loading/data/error;
 * `reload` runs it again keeping the shown data, for refreshes that must not flash a spinner.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Async<T> & { reload: () => void } {
  const [state, setState] = useState<Async<T>>({ status: 'loading' });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const lastDeps = useRef<readonly unknown[]>(deps);
  useEffect(() => {
    const ctl = new AbortController();
    const depsChanged = lastDeps.current !== deps && deps.some((d, i) => d !== lastDeps.current[i]);
    lastDeps.current = deps;
    setState((s) => (depsChanged ? { status: 'loading' } : s.status === 'error' ? { status: 'loading', ...(s.data !== undefined ? { data: s.data } : {}) } : s));
    loadRef.current(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ status: 'ok', data }),
      (error: unknown) => !ctl.signal.aborted && setState((s) => ({ status: 'error', error: error instanceof Error ? error : new Error(String(error)), ...(s.data !== undefined ? { data: s.data } : {}) })),
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
