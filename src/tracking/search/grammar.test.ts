import { describe, it, expect } from 'vitest';
import { LapisError } from '../../core/errors.js';
import type { Clause, SearchEntity } from './grammar.js';
import { likeToRegExp, parseFilter, parseOrderBy, parseOrderBys } from './grammar.js';

function one(entity: SearchEntity, filter: string): Clause {
  const clauses = parseFilter(entity, filter);
  expect(clauses).toHaveLength(1);
  return clauses[0] as Clause;
}

function caught(run: () => unknown): LapisError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(LapisError);
    return err as LapisError;
  }
  throw new Error('expected a parse error');
}

/** Asserts the error points at `position` (message, caret line, details) and mentions each fragment. */
function expectFilterError(entity: SearchEntity, filter: string, position: number, ...fragments: string[]): LapisError {
  const err = caught(() => parseFilter(entity, filter));
  expect(err.code).toBe('INVALID_ARGUMENT');
  expect(err.message).toContain(`Invalid filter "${filter}"`);
  expect(err.message).toContain(`at position ${position}`);
  expect(err.message.endsWith(`\n  ${filter}\n  ${' '.repeat(position)}^`)).toBe(true);
  expect(err.details).toMatchObject({ position, filter });
  for (const fragment of fragments) expect(err.message).toContain(fragment);
  return err;
}

function expectOrderByError(entity: SearchEntity, orderBy: string, position: number, ...fragments: string[]): LapisError {
  const err = caught(() => parseOrderBy(entity, orderBy));
  expect(err.code).toBe('INVALID_ARGUMENT');
  expect(err.message).toContain(`Invalid order_by "${orderBy}"`);
  expect(err.message).toContain(`at position ${position}`);
  expect(err.message.endsWith(`\n  ${orderBy}\n  ${' '.repeat(position)}^`)).toBe(true);
  expect(err.details).toMatchObject({ position, orderBy });
  for (const fragment of fragments) expect(err.message).toContain(fragment);
  return err;
}

describe('parseFilter: basics', () => {
  it('returns no clauses for an absent, empty or blank filter', () => {
    expect(parseFilter('runs', undefined)).toEqual([]);
    expect(parseFilter('runs', null)).toEqual([]);
    expect(parseFilter('runs', '')).toEqual([]);
    expect(parseFilter('runs', '  \t\n ')).toEqual([]);
  });

  it('parses a clause with its position', () => {
    expect(parseFilter('runs', '  metrics.rmse < 0.8')).toEqual([
      { identifier: { type: 'metric', key: 'rmse' }, comparator: '<', value: { kind: 'number', value: 0.8 }, position: 2 },
    ]);
  });

  it('joins clauses with AND in any case, recording each position', () => {
    const clauses = parseFilter('runs', "metrics.a > 1 AND params.b = 'x' and tags.c != 'y' AnD status = 'FINISHED'");
    expect(clauses.map((c) => [c.identifier, c.position])).toEqual([
      [{ type: 'metric', key: 'a' }, 0],
      [{ type: 'param', key: 'b' }, 18],
      [{ type: 'tag', key: 'c' }, 37],
      [{ type: 'attribute', key: 'status' }, 55],
    ]);
  });

  it('does not need whitespace around operators', () => {
    expect(parseFilter('runs', "metrics.a>=-1 AND params.b='x' AND metrics.c<>2")).toEqual([
      { identifier: { type: 'metric', key: 'a' }, comparator: '>=', value: { kind: 'number', value: -1 }, position: 0 },
      { identifier: { type: 'param', key: 'b' }, comparator: '=', value: { kind: 'string', value: 'x' }, position: 18 },
      { identifier: { type: 'metric', key: 'c' }, comparator: '!=', value: { kind: 'number', value: 2 }, position: 35 },
    ]);
  });

  it('accepts newlines and tabs as whitespace', () => {
    expect(parseFilter('runs', "metrics.a > 1\n\tAND\ttags.b = 'x'")).toHaveLength(2);
  });
});

describe('parseFilter: comparators', () => {
  it.each([
    ['=', '='],
    ['!=', '!='],
    ['<>', '!='],
    ['>', '>'],
    ['>=', '>='],
    ['<', '<'],
    ['<=', '<='],
  ])('numeric %s', (written, comparator) => {
    expect(one('runs', `metrics.m ${written} 1`).comparator).toBe(comparator);
  });

  it.each([
    ['=', '='],
    ['!=', '!='],
    ['<>', '!='],
    ['LIKE', 'LIKE'],
    ['like', 'LIKE'],
    ['ILIKE', 'ILIKE'],
    ['iLike', 'ILIKE'],
  ])('string %s', (written, comparator) => {
    expect(one('runs', `tags.t ${written} 'v%'`)).toMatchObject({ comparator, value: { kind: 'string', value: 'v%' } });
  });

  it.each([
    ['IN', 'IN'],
    ['in', 'IN'],
    ['NOT IN', 'NOT IN'],
    ['not   in', 'NOT IN'],
    ['Not In', 'NOT IN'],
  ])('list %s', (written, comparator) => {
    expect(one('runs', `run_id ${written} ('a', 'b')`)).toMatchObject({ comparator, value: { kind: 'list', values: ['a', 'b'] } });
  });
});

describe('parseFilter: identifiers', () => {
  it.each([
    ['metric.m', 'metric'],
    ['metrics.m', 'metric'],
    ['METRICS.m', 'metric'],
    ['param.m', 'param'],
    ['params.m', 'param'],
    ['parameter.m', 'param'],
    ['parameters.m', 'param'],
    ['tag.m', 'tag'],
    ['tags.m', 'tag'],
  ])('type alias %s', (identifier, type) => {
    const value = type === 'metric' ? '1' : "'x'";
    expect(one('runs', `${identifier} = ${value}`).identifier).toEqual({ type, key: 'm' });
  });

  it.each(['attribute', 'attributes', 'attr', 'run', 'Attributes'])('attribute alias %s', (prefix) => {
    expect(one('runs', `${prefix}.status = 'FAILED'`).identifier).toEqual({ type: 'attribute', key: 'status' });
  });

  it.each(['dataset', 'datasets'])('dataset alias %s', (prefix) => {
    expect(one('runs', `${prefix}.digest = 'abc'`).identifier).toEqual({ type: 'dataset', key: 'digest' });
  });

  it('treats a bare name as an attribute', () => {
    expect(one('runs', "status = 'RUNNING'").identifier).toEqual({ type: 'attribute', key: 'status' });
  });

  it.each([
    ['created > 5', 'start_time'],
    ['Created > 5', 'start_time'],
    ['attributes.created > 5', 'start_time'],
    ['"run name" = \'x\'', 'run_name'],
    ['`Run Name` = \'x\'', 'run_name'],
    ['attributes."run name" = \'x\'', 'run_name'],
    ["run_uuid = 'x'", 'run_id'],
    ["run_id = 'x'", 'run_id'],
    ["RUN_ID = 'x'", 'run_id'],
  ])('resolves run attribute alias: %s', (filter, key) => {
    expect(one('runs', filter).identifier).toEqual({ type: 'attribute', key });
  });

  it('keeps dots inside keys', () => {
    expect(one('runs', 'metrics.val.loss < 1').identifier).toEqual({ type: 'metric', key: 'val.loss' });
    expect(one('runs', "tags.mlflow.source.git.commit = 'abc'").identifier).toEqual({ type: 'tag', key: 'mlflow.source.git.commit' });
  });

  it('accepts unquoted keys with dashes, slashes and leading digits, keeping their case', () => {
    expect(one('runs', "params.lr-schedule/v2 = 'x'").identifier).toEqual({ type: 'param', key: 'lr-schedule/v2' });
    expect(one('runs', 'metrics.1st_epoch_Loss < 1').identifier).toEqual({ type: 'metric', key: '1st_epoch_Loss' });
  });

  it('accepts unicode keys', () => {
    expect(one('runs', 'metrics.précision > 0.5').identifier).toEqual({ type: 'metric', key: 'précision' });
  });

  it.each([
    ['tags.`my-tag` = \'x\'', { type: 'tag', key: 'my-tag' }],
    ['metrics."f1 score" > 0.5', { type: 'metric', key: 'f1 score' }],
    ['metrics.`f1 score` > 0.5', { type: 'metric', key: 'f1 score' }],
    ['params.`a``b` = \'x\'', { type: 'param', key: 'a`b' }],
    ['params."a\\"b" = \'x\'', { type: 'param', key: 'a"b' }],
    ['metrics.val."top 1" > 0.5', { type: 'metric', key: 'val.top 1' }],
    ['`metrics.f1 score` > 0.5', { type: 'metric', key: 'f1 score' }],
    ['"tags.my key" = \'x\'', { type: 'tag', key: 'my key' }],
    ['`attributes.run_id` = \'x\'', { type: 'attribute', key: 'run_id' }],
    ['`status` = \'x\'', { type: 'attribute', key: 'status' }],
  ])('quoting form %s', (filter, identifier) => {
    expect(one('runs', filter).identifier).toEqual(identifier);
  });

  it('dataset fields', () => {
    expect(one('runs', "datasets.name IN ('train', 'eval')")).toMatchObject({ identifier: { type: 'dataset', key: 'name' }, comparator: 'IN' });
    expect(one('runs', "datasets.context NOT IN ('training')").comparator).toBe('NOT IN');
    expect(one('runs', "datasets.digest LIKE 'ab%'").comparator).toBe('LIKE');
  });
});

describe('parseFilter: values', () => {
  it.each([
    ['1', 1],
    ['-1', -1],
    ['+2', 2],
    ['0.5', 0.5],
    ['.5', 0.5],
    ['-.5', -0.5],
    ['5.', 5],
    ['1e3', 1000],
    ['1E-3', 0.001],
    ['-2.5e+2', -250],
    ['1700000000000', 1700000000000],
  ])('number %s', (text, value) => {
    expect(one('runs', `metrics.m > ${text}`).value).toEqual({ kind: 'number', value });
  });

  it.each([
    ["'x'", 'x'],
    ['"x"', 'x'],
    ["''", ''],
    ["'it''s'", "it's"],
    ["'it\\'s'", "it's"],
    ['"say ""hi"""', 'say "hi"'],
    ['"say \\"hi\\""', 'say "hi"'],
    ['\'a "b"\'', 'a "b"'],
    ["'C:\\temp'", 'C:\\temp'],
    ["'ends with \\\\'", 'ends with \\'],
    ["'50\\%'", '50\\%'],
    ["'  spaced  '", '  spaced  '],
    ["'AND OR ( )'", 'AND OR ( )'],
  ])('string %s', (text, value) => {
    expect(one('runs', `tags.t = ${text}`).value).toEqual({ kind: 'string', value });
  });

  it('parses IN lists with either quote and any spacing', () => {
    expect(one('runs', `run_id IN ('a',"b" ,  'c''d')`).value).toEqual({ kind: 'list', values: ['a', 'b', "c'd"] });
    expect(one('runs', "run_id IN('a')").value).toEqual({ kind: 'list', values: ['a'] });
  });
});

describe('parseFilter: entity rules', () => {
  it('runs: numeric attributes take numbers', () => {
    expect(one('runs', 'end_time <= 1700000000000')).toMatchObject({ identifier: { key: 'end_time' }, value: { kind: 'number' } });
  });

  it('runs: every string attribute supports the string comparators', () => {
    for (const key of ['run_id', 'run_name', 'status', 'user_id', 'artifact_uri', 'lifecycle_stage']) {
      expect(one('runs', `${key} ILIKE 'x%'`).identifier).toEqual({ type: 'attribute', key });
    }
  });

  it('experiments', () => {
    expect(parseFilter('experiments', "name LIKE 'a%' AND tags.team = 'x' AND creation_time > 1 AND last_update_time < 2")).toHaveLength(4);
    expect(one('experiments', "experiment_id IN ('1', '2')").value).toEqual({ kind: 'list', values: ['1', '2'] });
    expect(one('experiments', "experiment_id != '1'").comparator).toBe('!=');
  });

  it('logged_models', () => {
    const clauses = parseFilter(
      'logged_models',
      "metrics.acc > 0.9 AND params.p = 'x' AND tags.t = 'y' AND model_id IN ('m-1') AND model_type = 'a' AND status = 'READY' AND source_run_id = 'r' AND creation_time > 1 AND last_updated_timestamp < 2 AND name LIKE 'n%'",
    );
    expect(clauses.map((c) => c.identifier.key)).toEqual(['acc', 'p', 't', 'model_id', 'model_type', 'status', 'source_run_id', 'creation_timestamp', 'last_updated_timestamp', 'name']);
  });

  it('registered_models', () => {
    expect(parseFilter('registered_models', "name ILIKE '%fraud%' AND tags.owner = 'me'")).toHaveLength(2);
  });

  it('model_versions', () => {
    const clauses = parseFilter(
      'model_versions',
      "name = 'm' AND run_id IN ('a') AND source_path LIKE 's3://%' AND current_stage = 'Production' AND version_number >= 2 AND tags.t = 'x'",
    );
    expect(clauses.map((c) => c.identifier.key)).toEqual(['name', 'run_id', 'source_path', 'current_stage', 'version_number', 't']);
  });
});

describe('parseFilter: errors', () => {
  it('matches the documented message format exactly', () => {
    const err = caught(() => parseFilter('runs', 'metrics.rmse < abc'));
    expect(err.message).toBe(
      `Invalid filter "metrics.rmse < abc": expected a number after '<' at position 15, found 'abc'. Metric values are numbers, e.g. metrics.rmse < 0.8\n` +
        `  metrics.rmse < abc\n` +
        `                 ^`,
    );
    expect(err.details).toEqual({ position: 15, token: 'abc', filter: 'metrics.rmse < abc' });
  });

  it('bad tokens', () => {
    expectFilterError('runs', 'metrics.x # 1', 10, "unexpected character '#'");
    expectFilterError('runs', 'metrics.x > 1.2.3', 12, "found '1.2.3'");
    expectFilterError('runs', 'metrics.x > 12ab', 12, "found '12ab'");
    expectFilterError('runs', '= 1', 0, 'expected a key', "found '='");
    expectFilterError('runs', 'metrics.x 1', 10, "expected a comparator after 'metrics.x'", "found '1'");
    expectFilterError('runs', 'metrics.x', 9, 'expected a comparator', 'found the end of the filter');
    expectFilterError('runs', 'metrics.x >', 11, "expected a number after '>'", 'found the end of the filter');
    expectFilterError('runs', 'metrics.x == 1', 10, "unknown comparator '=='", "single '='");
    expectFilterError('runs', 'metrics.x =< 1', 10, "unknown comparator '=<'");
  });

  it('suggests quoting a key that contains a space', () => {
    expectFilterError('runs', 'metrics.f1 score > 1', 11, "found 'score'", 'metrics.`f1 score`');
  });

  it('comparator not supported for the identifier type', () => {
    expectFilterError('runs', "metrics.x LIKE '1'", 10, "comparator 'LIKE' is not supported for metric 'x'", '=, !=, >, >=, <, <=');
    expectFilterError('runs', 'params.p > 1', 9, "comparator '>' is not supported for param 'p'", '=, !=, LIKE, ILIKE');
    expectFilterError('runs', "tags.t IN ('a')", 7, "'IN' is not supported for tag 't'");
    expectFilterError('runs', "status NOT IN ('a')", 7, "'NOT IN' is not supported for attribute 'status'");
    expectFilterError('runs', "start_time LIKE '1%'", 11, "'LIKE' is not supported for attribute 'start_time'");
    expectFilterError('experiments', "experiment_id NOT IN ('1')", 14, "'NOT IN' is not supported for attribute 'experiment_id'", '=, !=, IN');
    expectFilterError('experiments', "experiment_id LIKE '1'", 14, "'LIKE' is not supported");
    expectFilterError('model_versions', "version_number LIKE '1'", 15, "'LIKE' is not supported");
  });

  it('string where a number is expected, and vice versa', () => {
    expectFilterError('runs', "metrics.x > '0.5'", 12, 'expected a number', "found string '0.5'", 'drop the quotes, e.g. metrics.x > 0.5');
    expectFilterError('runs', "start_time > 'yesterday'", 13, 'expected a number', "Attribute 'start_time' values are numbers");
    expectFilterError('runs', 'params.lr = 0.01', 12, "expected a quoted string after '='", "found '0.01'", "e.g. params.lr = '0.01'");
    expectFilterError('runs', 'status = FINISHED', 9, 'expected a quoted string', "status = 'FINISHED'");
    expectFilterError('runs', 'tags.t = `x`', 9, 'found quoted name `x`', 'Backticks quote names');
    expectFilterError('experiments', 'experiment_id = 1', 16, 'expected a quoted string', "experiment_id = '1'");
  });

  it('OR is rejected', () => {
    expectFilterError('runs', 'metrics.x > 1 OR metrics.y < 2', 14, 'OR is not supported', 'AND only');
    expectFilterError('runs', 'metrics.x > 1 or metrics.y < 2', 14, 'OR is not supported');
    expectFilterError('runs', 'OR metrics.x > 1', 0, 'OR is not supported');
  });

  it('grouping parentheses are rejected', () => {
    expectFilterError('runs', '(metrics.x > 1)', 0, 'parentheses for grouping are not supported');
    expectFilterError('runs', 'metrics.x > 1 AND (metrics.y < 2)', 18, 'parentheses for grouping are not supported');
    expectFilterError('runs', 'metrics.x > 1)', 13, 'parentheses for grouping are not supported');
    expectFilterError('runs', 'metrics.x > (1)', 12, 'expected a number', "found '('");
  });

  it('trailing garbage', () => {
    expectFilterError('runs', 'metrics.x > 1 foo', 14, 'expected AND or the end of the filter', "found 'foo'");
    expectFilterError('runs', "tags.t = 'a' 'b'", 13, "found string 'b'");
    expectFilterError('runs', 'metrics.x > 1,', 13, "found ','");
    expectFilterError('runs', 'metrics.x > 1 AND', 17, "after 'AND'", 'found the end of the filter', 'remove it');
    expectFilterError('runs', 'metrics.x > 1 AND AND metrics.y > 2', 18, "found 'AND'");
    expectFilterError('runs', "metrics.x > 1 NOT LIKE 'a'", 14, "found 'NOT'");
  });

  it('unterminated strings and quoted names', () => {
    expectFilterError('runs', "tags.t = 'abc", 9, 'unterminated string', "closing '");
    expectFilterError('runs', 'tags.t = "abc', 9, 'unterminated string', 'closing "');
    expectFilterError('runs', "tags.t = 'it\\'s", 9, 'unterminated string');
    expectFilterError('runs', "tags.`abc = 'x'", 5, 'unterminated quoted name', 'closing `');
  });

  it('unknown attributes and identifier types', () => {
    expectFilterError('runs', "foo = 'x'", 0, "unknown attribute 'foo' for runs", 'run_id, run_name', 'metrics., params., tags.');
    expectFilterError('runs', 'attributes.duration > 1', 0, "unknown attribute 'duration'");
    expectFilterError('runs', 'metrics.x > 1 AND experiment_id = 1', 18, "unknown attribute 'experiment_id'");
    expectFilterError('runs', "datasets.size = 'x'", 0, "unknown dataset field 'size'", 'name, digest, context');
    expectFilterError('runs', 'bogus.x > 1', 0, "unknown identifier type 'bogus'", 'metrics., params., tags., attributes., datasets.');
    expectFilterError('runs', "\"foo.bar\" = 'x'", 0, "unknown attribute 'foo.bar'");
    expectFilterError('registered_models', "version_number > 1", 0, "unknown attribute 'version_number'", 'Valid attributes: name');
  });

  it('identifier types the entity does not support', () => {
    expectFilterError('experiments', 'metrics.x > 1', 0, 'metrics cannot be filtered on when searching experiments', 'attributes., tags.');
    expectFilterError('experiments', "params.x = 'a'", 0, 'params cannot be filtered on');
    expectFilterError('registered_models', "datasets.name = 'a'", 0, 'datasets cannot be filtered on');
    expectFilterError('model_versions', 'metrics.x > 1', 0, 'metrics cannot be filtered on when searching model_versions');
    expectFilterError('logged_models', "datasets.name = 'a'", 0, 'datasets cannot be filtered on');
  });

  it('missing or misquoted keys', () => {
    expectFilterError('runs', 'metrics. > 1', 0, "missing key in 'metrics.'");
    expectFilterError('runs', "tags.`` = 'x'", 0, 'missing key');
    expectFilterError('runs', "'status' = 'x'", 0, "found string 'status'", 'backticks or double quotes');
    expectFilterError('runs', "tags.'x' = 'y'", 5, 'single quotes cannot quote a key', 'tags.`x`');
  });

  it('IN lists', () => {
    expectFilterError('runs', 'run_id IN ()', 11, 'empty IN list', "run_id IN ('a1b2c3', 'd4e5f6')");
    expectFilterError('runs', 'run_id NOT IN ( )', 16, 'empty NOT IN list');
    expectFilterError('runs', "run_id IN 'a'", 10, "expected '(' after 'IN'", "found string 'a'");
    expectFilterError('runs', 'run_id IN (a)', 11, 'expected a quoted string in the IN list', "run_id IN ('a')");
    expectFilterError('runs', 'run_id IN (1, 2)', 11, "found '1'");
    expectFilterError('runs', "run_id IN ('a',)", 15, "found ')'");
    expectFilterError('runs', "run_id IN ('a' 'b')", 15, "expected ',' or ')'");
    expectFilterError('runs', "run_id IN ('a'", 14, "expected ',' or ')'", 'found the end of the filter');
    expectFilterError('runs', "run_id NOT LIKE 'a'", 11, "expected IN after 'NOT'", "use '!='");
  });

  it('numbers out of range', () => {
    expectFilterError('runs', 'metrics.x > 1e999', 12, 'number out of range');
  });

  it('keeps the caret aligned when the filter spans lines', () => {
    const err = caught(() => parseFilter('runs', 'metrics.x > 1\nAND foo > 1'));
    expect(err.message).toContain('at position 18');
    expect(err.message.endsWith(`\n  metrics.x > 1 AND foo > 1\n  ${' '.repeat(18)}^`)).toBe(true);
  });

  it('never resolves keys through the object prototype', () => {
    expectFilterError('runs', "constructor = 'x'", 0, "unknown attribute 'constructor'");
    expectFilterError('runs', "datasets.toString = 'x'", 0, 'unknown dataset field');
  });
});

describe('parseOrderBy', () => {
  it('defaults to ascending and accepts ASC/DESC in any case', () => {
    expect(parseOrderBy('runs', 'metrics.rmse')).toEqual({ identifier: { type: 'metric', key: 'rmse' }, ascending: true });
    expect(parseOrderBy('runs', 'metrics.rmse ASC').ascending).toBe(true);
    expect(parseOrderBy('runs', 'metrics.rmse desc').ascending).toBe(false);
    expect(parseOrderBy('runs', '  start_time   Desc  ')).toEqual({ identifier: { type: 'attribute', key: 'start_time' }, ascending: false });
  });

  it('runs: metrics, params, tags and attributes with aliases and quoting', () => {
    expect(parseOrderBy('runs', 'params.lr').identifier).toEqual({ type: 'param', key: 'lr' });
    expect(parseOrderBy('runs', 'tags.`my tag` DESC').identifier).toEqual({ type: 'tag', key: 'my tag' });
    expect(parseOrderBy('runs', 'metrics."f1 score"').identifier).toEqual({ type: 'metric', key: 'f1 score' });
    expect(parseOrderBy('runs', '`metrics.val loss` DESC').identifier).toEqual({ type: 'metric', key: 'val loss' });
    expect(parseOrderBy('runs', 'created').identifier).toEqual({ type: 'attribute', key: 'start_time' });
    expect(parseOrderBy('runs', '"run name"').identifier).toEqual({ type: 'attribute', key: 'run_name' });
    expect(parseOrderBy('runs', 'attr.experiment_id').identifier).toEqual({ type: 'attribute', key: 'experiment_id' });
    for (const key of ['end_time', 'run_id', 'status', 'user_id', 'artifact_uri']) {
      expect(parseOrderBy('runs', key).identifier.key).toBe(key);
    }
  });

  it('other entities', () => {
    for (const key of ['name', 'experiment_id', 'creation_time', 'last_update_time']) {
      expect(parseOrderBy('experiments', `${key} DESC`).identifier).toEqual({ type: 'attribute', key });
    }
    expect(parseOrderBy('logged_models', 'metrics.acc DESC').identifier).toEqual({ type: 'metric', key: 'acc' });
    expect(parseOrderBy('logged_models', 'params.p').identifier).toEqual({ type: 'param', key: 'p' });
    expect(parseOrderBy('logged_models', 'creation_time').identifier.key).toBe('creation_timestamp');
    for (const key of ['name', 'last_updated_timestamp', 'model_id']) expect(parseOrderBy('logged_models', key).identifier.key).toBe(key);
    expect(parseOrderBy('registered_models', 'timestamp DESC')).toEqual({ identifier: { type: 'attribute', key: 'last_updated_timestamp' }, ascending: false });
    expect(parseOrderBy('registered_models', 'creation_timestamp').identifier.key).toBe('creation_timestamp');
    for (const key of ['name', 'version_number', 'creation_timestamp', 'last_updated_timestamp']) {
      expect(parseOrderBy('model_versions', key).identifier.key).toBe(key);
    }
  });

  it('errors', () => {
    expectOrderByError('runs', '', 0, 'expected a key to order by', 'found the end of the order_by');
    expectOrderByError('runs', 'metrics.x sideways', 10, 'expected ASC, DESC or the end of the order_by', "found 'sideways'");
    expectOrderByError('runs', 'metrics.x DESC ASC', 15, "found 'ASC'");
    expectOrderByError('runs', 'metrics.x DESC, start_time', 14, 'one order_by entry holds a single key', 'own order_by entry');
    expectOrderByError('runs', 'lifecycle_stage', 0, "unknown attribute 'lifecycle_stage'", 'to order by');
    expectOrderByError('runs', 'datasets.name', 0, 'datasets cannot be ordered by when searching runs');
    expectOrderByError('experiments', 'tags.x', 0, 'tags cannot be ordered by');
    expectOrderByError('logged_models', 'tags.x', 0, 'tags cannot be ordered by');
    expectOrderByError('registered_models', 'version_number', 0, "unknown attribute 'version_number'");
    expectOrderByError('runs', 'metrics.x > 1', 10, "found '>'");
    expectOrderByError('runs', 'metrics.`x', 8, 'unterminated quoted name');
  });
});

describe('parseOrderBys', () => {
  it('parses every entry and tolerates undefined', () => {
    expect(parseOrderBys('runs', undefined)).toEqual([]);
    expect(parseOrderBys('runs', [])).toEqual([]);
    expect(parseOrderBys('runs', ['metrics.rmse DESC', 'start_time'])).toEqual([
      { identifier: { type: 'metric', key: 'rmse' }, ascending: false },
      { identifier: { type: 'attribute', key: 'start_time' }, ascending: true },
    ]);
  });

  it('rejects the same key twice, aliases included', () => {
    const err = caught(() => parseOrderBys('runs', ['start_time DESC', 'metrics.a', 'created ASC']));
    expect(err.message).toContain("attribute 'start_time' already appears in order_by[0]");
    expect(err.details).toMatchObject({ position: 0, orderBy: 'created ASC' });
  });

  it('a metric and a param with the same key are different keys', () => {
    expect(parseOrderBys('runs', ['metrics.a', 'params.a'])).toHaveLength(2);
  });
});

describe('likeToRegExp', () => {
  it('% matches any run, _ exactly one character', () => {
    const re = likeToRegExp('a%b_', false);
    expect(re.test('ab1')).toBe(true);
    expect(re.test('axxxbz')).toBe(true);
    expect(re.test('ab')).toBe(false);
    expect(re.test('ab12')).toBe(false);
    expect(re.test('xab1')).toBe(false);
  });

  it('is anchored, and % spans newlines', () => {
    expect(likeToRegExp('abc', false).test('xabcx')).toBe(false);
    expect(likeToRegExp('%abc%', false).test('x\nabc\ny')).toBe(true);
  });

  it('LIKE is case-sensitive, ILIKE is not', () => {
    expect(likeToRegExp('Fraud%', false).test('fraud-model')).toBe(false);
    expect(likeToRegExp('Fraud%', true).test('fraud-model')).toBe(true);
    expect(likeToRegExp('ÉTÉ', true).test('été')).toBe(true);
  });

  it('treats regex metacharacters literally', () => {
    const re = likeToRegExp('a.b*c(d)[e]{2}|$^+?/\\', false);
    expect(re.test('a.b*c(d)[e]{2}|$^+?/\\')).toBe(true);
    expect(re.test('axb*c(d)[e]{2}|$^+?/\\')).toBe(false);
  });

  it('backslash escapes % and _', () => {
    expect(likeToRegExp('50\\%', false).test('50%')).toBe(true);
    expect(likeToRegExp('50\\%', false).test('500')).toBe(false);
    expect(likeToRegExp('a\\_b', false).test('a_b')).toBe(true);
    expect(likeToRegExp('a\\_b', false).test('axb')).toBe(false);
    expect(likeToRegExp('a\\\\%', false).test('a\\anything')).toBe(true);
  });

  it('_ matches one astral character', () => {
    expect(likeToRegExp('x_y', false).test('x😀y')).toBe(true);
  });

  it('round-trips with parsed LIKE values', () => {
    const clause = one('runs', "tags.pct LIKE '100\\%%'");
    expect(clause.value).toEqual({ kind: 'string', value: '100\\%%' });
    const re = likeToRegExp((clause.value as { value: string }).value, false);
    expect(re.test('100% done')).toBe(true);
    expect(re.test('1000')).toBe(false);
  });
});
