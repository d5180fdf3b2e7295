import { useCallback, useEffect, useRef, useState } from 'react';
import type { LapisClient, Run } from '../../../src/client/index.js';

export const PAGE = 100;
/** Pages kept in memory: scrolling through 100,000 runs must not keep all of them. */
const KEEP_PAGES = 50;

export interface RunsQuery {
  experimentId: string;
  filter: string;
  orderBy: string[];
}

export interface RunsSource {
  total: number | undefined;
  error: Error | undefined;
  row(index: number): Run | undefined;
  /** Loads the pages that cover [start, end). */
  need(start: number, end: number): void;
  /** The first page has arrived (rows or an empty result). */
  ready: boolean;
}

/**
 * Runs of a search as a sparse array, loaded a page of 100 at a time where the table looks:
 * the server sorts and filters (search API with offset and total), the browser holds only the
 * pages seen. A new query drops everything and aborts what is in flight.
 */
export function useRunsSource(client: LapisClient, q: RunsQuery): RunsSource {
  const [total, setTotal] = useState<number | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [, setVersion] = useState(0);
  const pages = useRef(new Map<number, Run[] | 'loading'>());
  const ctl = useRef(new AbortController());
  const key = JSON.stringify(q);

  const load = useCallback(
    (page: number, first: boolean) => {
      pages.current.set(page, 'loading');
      const signal = ctl.current.signal;
      client.runs
        .search({ experiments: [q.experimentId], filter: q.filter || undefined, orderBy: q.orderBy, maxResults: PAGE, offset: page * PAGE, includeTotal: first, signal })
        .then(
          (res) => {
            if (signal.aborted) return;
            pages.current.set(page, res.runs);
            if (res.total_count !== undefined) setTotal(res.total_count);
            setVersion((v) => v + 1);
          },
          (err: unknown) => {
            if (signal.aborted) return;
            pages.current.delete(page);
            setError(err instanceof Error ? err : new Error(String(err)));
          },
        );
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [client, key],
  );

  useEffect(() => {
    ctl.current.abort();
    ctl.current = new AbortController();
    pages.current = new Map();
    setTotal(undefined);
    setError(undefined);
    load(0, true);
    return () => ctl.current.abort();
  }, [load]);

  const loadRange = useCallback(
    (start: number, end: number) => {
      const first = Math.floor(start / PAGE);
      const last = Math.floor(Math.max(start, end - 1) / PAGE);
      for (let p = first; p <= last; p++) if (!pages.current.has(p)) load(p, false);
      // Forget the pages farthest from the view; they load again if the user scrolls back. The
      // first page stays: the column choices come from it.
      if (pages.current.size > KEEP_PAGES) {
        const far = [...pages.current.keys()].filter((p) => p !== 0).sort((a, b) => Math.abs(b - first) - Math.abs(a - first));
        for (const p of far.slice(0, pages.current.size - KEEP_PAGES)) if (pages.current.get(p) !== 'loading') pages.current.delete(p);
      }
    },
    [load],
  );

  // Dragging the scrollbar across 100,000 rows passes a thousand pages: only where the view
  // rests for a moment is loaded.
  const settle = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(settle.current), []);
  const need = useCallback(
    (start: number, end: number) => {
      clearTimeout(settle.current);
      settle.current = setTimeout(() => loadRange(start, end), 60);
    },
    [loadRange],
  );

  const row = (index: number): Run | undefined => {
    const page = pages.current.get(Math.floor(index / PAGE));
    return page === undefined || page === 'loading' ? undefined : page[index % PAGE];
  };
  return { total, error, row, need, ready: total !== undefined };
}
