import { sql, type RawBuilder } from 'kysely';
import type { Dialect } from '../store/db.js';
import type { Comparator, Value } from './search/grammar.js';

/** Compiles one parsed comparison against a SQL expression, the same way on both dialects. */
export function compare(ref: RawBuilder<unknown>, comparator: Comparator, value: Value, dialect: Dialect): RawBuilder<boolean> {
  if (value.kind === 'list') {
    const list = sql.join(value.values.map((v) => sql`${v}`));
    return comparator === 'NOT IN' ? sql<boolean>`${ref} not in (${list})` : sql<boolean>`${ref} in (${list})`;
  }
  // Integer columns (timestamps, versions) compared with 1.5 or 1e300 must not make PostgreSQL
  // coerce the literal to bigint and fail: numbers are compared as doubles on both dialects.
  const v = value.kind === 'number' && dialect === 'postgres' ? sql`cast(${value.value} as double precision)` : value.value;
  switch (comparator) {
    case '=':
      return sql<boolean>`${ref} = ${v}`;
    case '!=':
      return sql<boolean>`${ref} <> ${v}`;
    case '>':
      return sql<boolean>`${ref} > ${v}`;
    case '>=':
      return sql<boolean>`${ref} >= ${v}`;
    case '<':
      return sql<boolean>`${ref} < ${v}`;
    case '<=':
      return sql<boolean>`${ref} <= ${v}`;
    case 'LIKE':
      return sql<boolean>`${ref} like ${v}`;
    case 'ILIKE':
      return dialect === 'postgres' ? sql<boolean>`${ref} ilike ${v}` : sql<boolean>`lower(${ref}) like lower(${v})`;
    default:
      return sql<boolean>`${ref} in (${v})`;
  }
}

export function and(conditions: RawBuilder<boolean>[]): RawBuilder<boolean> {
  if (conditions.length === 0) return sql<boolean>`1 = 1`;
  return sql<boolean>`(${sql.join(conditions, sql` and `)})`;
}
