import type { Model, QueryBuilder } from 'objection';
import { problems } from '../http/problem.js';
import type { ListingCursors } from './cursor.js';

export interface PageRequest {
  limit: number;
  offset: number;
  cursor?: string;
}

/**
 * A listing's order: by `column`, then by the unique `id` in the same direction, so that every
 * row has exactly one place and pages never overlap, however many rows tie on `column`.
 */
export interface Order {
  column: string;
  id: string;
  direction: 'asc' | 'desc';
  /**
   * For a nullable timestamp column: rows without a value come last, in either direction. The
   * listing then sorts on `coalesce(column, 'infinity')` (`'-infinity'` descending), which is
   * never null, so the keyset condition works unchanged, an index on that expression serves it,
   * and a cursor after such a row keeps the infinity as its value.
   */
  nullsLast?: boolean;
}

const farEnd = (order: Order) => (order.direction === 'asc' ? 'infinity' : '-infinity');

/** SQL for what the listing sorts on, whose one binding is `order.column`. */
export const sortKey = (order: Order) => (order.nullsLast ? `coalesce(??, '${farEnd(order)}')` : '??');

/** The column the page query adds to each row for the number of rows over all pages. */
const TOTAL = 'total_rows';

const cursorProblem = (message: string) => problems.validation([{ pointer: '/query/cursor', message }]);

/** The sort value as a cursor keeps it: timestamps as milliseconds (the columns' precision), ±infinity as text. */
const cursorValue = (value: unknown) => (value instanceof Date ? value.getTime() : String(value));
const columnValue = (value: string | number) => (typeof value === 'number' ? new Date(value) : value);

/**
 * One page of `query` in `order`, how many rows match over all pages, and a cursor for the page
 * after it (null on the last page). A page is found by offset, or after a cursor: then by the
 * keyset condition `(column, id) > (value, id)` (`<` when descending), which an index on
 * (…, column, id) serves directly, so a page deep in the list costs what the first one costs.
 */
export async function pageOf<M extends Model>(
  query: QueryBuilder<M, M[]>,
  order: Order,
  { limit, offset, cursor }: PageRequest,
  cursors: ListingCursors,
) {
  let after;
  if (cursor !== undefined) {
    if (offset > 0) throw cursorProblem('cannot be combined with an offset above 0; send one or the other');
    after = cursors.decode(cursor);
    if (!after) {
      throw cursorProblem('is not a cursor of this listing: send next_cursor back unchanged, with the sort and filters of the page it came from');
    }
  }
  const table = query.modelClass().tableName;
  const key = sortKey(order);
  const page = query
    .clone()
    // The total rides along as an uncorrelated subquery, which PostgreSQL runs once per statement:
    // a page is one round trip. Only an empty page, having no row to carry it, asks again.
    .select(`${table}.*`, query.clone().count('*').as(TOTAL))
    .orderByRaw(`${key} ${order.direction}, ?? ${order.direction}`, [order.column, order.id])
    // One row more than asked for tells whether there is a next page.
    .limit(limit + 1)
    // Prepared once per connection and text (src/db/knex.ts): a listing's filters vary its text.
    .onBuildKnex((builder) => builder.options({ name: `${table}-page` }));
  if (after) {
    page.whereRaw(`(${key}, ??) ${order.direction === 'asc' ? '>' : '<'} (?, ?)`, [order.column, order.id, columnValue(after.value), after.id]);
  } else {
    page.offset(offset);
  }
  const start = after?.position ?? offset;
  const rows = await page;
  const first = rows[0] as Record<string, unknown> | undefined;
  const total = first ? (first[TOTAL] as number) : start === 0 ? 0 : await query.clone().resultSize();
  const items = rows.slice(0, limit);
  const last = items.at(-1) as Record<string, unknown> | undefined;
  const next_cursor =
    rows.length > limit && last
      ? cursors.encode({ value: cursorValue(last[propertyOf(order.column)] ?? farEnd(order)), id: String(last[propertyOf(order.id)]), position: start + items.length })
      : null;
  return { items, total, limit, offset: start, next_cursor };
}

/** `tasks.created_at` → `created_at`, the name the row has it under. */
const propertyOf = (column: string) => column.slice(column.lastIndexOf('.') + 1);
