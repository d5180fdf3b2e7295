import { describe, expect, it } from 'vitest';
import { HistoryCache } from './history-cache.js';

const big = (n: number, fill = 'x'): string => fill.repeat(n);

describe('HistoryCache', () => {
  it('returns what was stored until its key is invalidated', () => {
    const cache = new HistoryCache(1024 * 1024);
    const key = HistoryCache.key('run', 'loss');
    cache.set(key, big(100_000));
    expect(cache.get(key)?.length).toBe(100_000);
    cache.invalidate(key);
    expect(cache.get(key)).toBeUndefined();
  });

  it('keeps small histories out, and ones over a quarter of the budget', () => {
    const cache = new HistoryCache(1024 * 1024);
    cache.set('small', big(1000));
    cache.set('huge', big(300_000));
    expect(cache.get('small')).toBeUndefined();
    expect(cache.get('huge')).toBeUndefined();
  });

  it('evicts the least recently used entries beyond the byte budget', () => {
    const cache = new HistoryCache(400_000);
    cache.set('a', big(100_000, 'a'));
    cache.set('b', big(100_000, 'b'));
    cache.set('c', big(100_000, 'c'));
    cache.get('a'); // a is now the most recent
    cache.set('d', big(100_000, 'd'));
    cache.set('e', big(100_000, 'e'));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('e')).toBeDefined();
  });
});
