import { act, cleanup, renderHook, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LapisClient, Run, RunPage, SearchRunsOptions } from '../../../src/client/index.js';
import { useRunsSource } from './runs-source.js';

const TOTAL = 100_000;
const run = (i: number) => ({ info: { run_id: `r${i}`, run_name: `run-${i}` }, data: { metrics: [], params: [], tags: [] } }) as unknown as Run;

/** A client whose search serves 100,000 generated runs and records each call. */
function fakeClient() {
  const calls: SearchRunsOptions[] = [];
  const search = async (opts: SearchRunsOptions): Promise<RunPage> => {
    calls.push(opts);
    const offset = opts.offset ?? 0;
    const runs = Array.from({ length: Math.min(opts.maxResults ?? 100, TOTAL - offset) }, (_, k) => run(offset + k));
    return { runs, next_page_token: null, ...(opts.includeTotal ? { total_count: TOTAL } : {}) };
  };
  return { client: { runs: { search } } as unknown as LapisClient, calls };
}

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('useRunsSource', () => {
  it('loads the first page with the total, then only the pages where the view comes to rest', async () => {
    const { client, calls } = fakeClient();
    const { result } = renderHook(() => useRunsSource(client, { experimentId: '1', filter: '', orderBy: [] }));
    await waitFor(() => expect(result.current.total).toBe(TOTAL));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ offset: 0, includeTotal: true, maxResults: 100 });
    expect(result.current.row(5)?.info.run_name).toBe('run-5');

    // A scrollbar dragged from top to bottom: a thousand ranges in a row, then a rest at the end.
    vi.useFakeTimers();
    act(() => {
      for (let start = 0; start < TOTAL; start += 100) result.current.need(start, start + 40);
      result.current.need(99_960, 100_000);
      vi.advanceTimersByTime(100);
    });
    vi.useRealTimers();
    expect(calls.map((c) => c.offset)).toEqual([0, 99_900]);
    await waitFor(() => expect(result.current.row(99_999)?.info.run_name).toBe('run-99999'));
  });

  it('keeps at most 50 pages, always the first one', async () => {
    const { client } = fakeClient();
    const { result } = renderHook(() => useRunsSource(client, { experimentId: '1', filter: '', orderBy: [] }));
    await waitFor(() => expect(result.current.total).toBe(TOTAL));
    vi.useFakeTimers();
    for (let page = 1; page <= 80; page++) {
      act(() => {
        result.current.need(page * 100, page * 100 + 50);
        vi.advanceTimersByTime(100);
      });
      await act(async () => {
        await Promise.resolve();
      });
    }
    vi.useRealTimers();
    await waitFor(() => expect(result.current.row(8000)?.info.run_name).toBe('run-8000'));
    expect(result.current.row(0)?.info.run_name).toBe('run-0');
    expect(result.current.row(100)).toBeUndefined(); // page 1, the farthest from the view, was dropped
  });
});
