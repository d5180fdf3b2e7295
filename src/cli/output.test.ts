import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { LapisError } from '../core/errors.js';
import { exitCodeOf, formatBytes, formatDuration, table } from './output.js';
import { referencedColumns } from './run.js';

describe('formatting', () => {
  it('formats durations with the two largest units', () => {
    expect([850, 42_000, 72_000, 3 * 3600_000 + 5 * 60_000, 50 * 3600_000].map(formatDuration)).toEqual(['850ms', '42s', '1m 12s', '3h 5m', '2d 2h']);
    expect(formatDuration(undefined)).toBe('-');
  });

  it('formats sizes', () => {
    expect([5, 2048, 3 * 1024 * 1024 + 17, 50 * 1024 ** 3].map(formatBytes)).toEqual(['5 B', '2.0 KiB', '3.0 MiB', '50 GiB']);
  });

  it('prints borderless, aligned tables', () => {
    expect(table(['A', 'LONGER'], [['x', '1'], ['yyyy', 'multi\nline']])).toBe('A     LONGER\nx     1\nyyyy  multi ⏎ line');
  });
});

describe('exit codes', () => {
  it('maps errors to the codes scripts rely on', () => {
    expect(exitCodeOf(new LapisError('INVALID_ARGUMENT', 'x'))).toBe(2);
    expect(exitCodeOf(new LapisError('ALREADY_EXISTS', 'x'))).toBe(2);
    expect(exitCodeOf(new LapisError('NOT_FOUND', 'x'))).toBe(3);
    expect(exitCodeOf(new LapisError('UNAVAILABLE', 'x'))).toBe(4);
    expect(exitCodeOf(new LapisError('INTERNAL', 'x'))).toBe(1);
    expect(exitCodeOf(new CommanderError(1, 'commander.unknownOption', 'x'))).toBe(2);
    expect(exitCodeOf(new CommanderError(0, 'commander.helpDisplayed', 'x'))).toBe(0);
    expect(exitCodeOf(new Error('bug'))).toBe(1);
  });
});

describe('referencedColumns', () => {
  it('finds the metrics, params and tags a filter and order-by name, once each, in order', () => {
    expect(
      referencedColumns([
        "metrics.rmse < 0.8 and params.alpha = '0.5' AND tags.`team name` = 'metrics.fake'",
        'metric.rmse DESC',
        'metrics."f1 score" ASC',
        '`params.l1 ratio` ASC',
        'attributes.start_time DESC',
      ]),
    ).toEqual([
      { kind: 'metrics', key: 'rmse' },
      { kind: 'params', key: 'alpha' },
      { kind: 'tags', key: 'team name' },
      { kind: 'metrics', key: 'f1 score' },
      { kind: 'params', key: 'l1 ratio' },
    ]);
  });

  it('keeps keys with dots, slashes and dashes whole', () => {
    expect(referencedColumns(['metrics.val.loss<1 and metrics.loss/train>=0 and params.max-depth != "3"'])).toEqual([
      { kind: 'metrics', key: 'val.loss' },
      { kind: 'metrics', key: 'loss/train' },
      { kind: 'params', key: 'max-depth' },
    ]);
  });
});
