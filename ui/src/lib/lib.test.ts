import { describe, expect, it } from 'vitest';
import { LapisError } from '../../../src/client/index.js';
import { filterErrorOf } from '../components/FilterBox.js';
import { profileColumns } from './profile.js';
import { matchPath, withQuery } from './router.js';
import { orderKey, parseColumns } from './run-columns.js';

describe('the router', () => {
  it('matches patterns and decodes parameters', () => {
    expect(matchPath('/w/:ws/runs/:id', '/w/team%20b/runs/abc')).toEqual({ ws: 'team b', id: 'abc' });
    expect(matchPath('/w/:ws/runs/:id', '/w/a/runs/')).toBeNull();
    expect(matchPath('/w/:ws/jobs', '/w/a/jobs/')).toEqual({ ws: 'a' });
    expect(matchPath('/w/:ws', '/w/%E0%A4%A')).toBeNull();
  });

  it('sets and removes query parameters', () => {
    const loc = { pathname: '/w/a/experiments/1', query: new URLSearchParams('filter=x&order=y') };
    expect(withQuery(loc, { filter: undefined, cols: 'metrics.loss' })).toBe('/w/a/experiments/1?order=y&cols=metrics.loss');
  });
});

describe('run columns', () => {
  it('keeps only metrics, params and tags, and quotes keys the grammar needs quoted', () => {
    expect(parseColumns('metrics.loss,foo,params.a b')).toEqual(['metrics.loss', 'params.a b']);
    expect(orderKey('params.a b')).toBe('params.`a b`');
    expect(orderKey('metrics.val.loss')).toBe('metrics.val.loss');
  });
});

describe('filterErrorOf', () => {
  it("takes the bad token's position from the server's error, only for the filter shown", () => {
    const err = new LapisError('INVALID_ARGUMENT', 'Invalid filter "a === 1": unknown comparator \'===\' at position 2. Use one of =\n  a === 1\n    ^', {
      position: 2,
      token: '===',
      filter: 'a === 1',
    });
    expect(filterErrorOf(err, 'a === 1')).toEqual({ message: "unknown comparator '===' at position 2. Use one of =", position: 2, token: '===' });
    expect(filterErrorOf(err, 'another filter')).toBeUndefined();
  });
});

describe('profileColumns', () => {
  it('profiles numbers and text, counting missing values', () => {
    const [n, t] = profileColumns(['x', 'kind'], [['1', 'a'], ['', 'b'], ['3', 'a']]);
    expect(n).toMatchObject({ type: 'number', missing: 1, min: 1, max: 3, mean: 2, distinct: 2 });
    expect(t).toMatchObject({ type: 'text', missing: 0, distinct: 2, top: [{ value: 'a', count: 2 }, { value: 'b', count: 1 }] });
  });
});
