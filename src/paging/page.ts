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
}

const cursorProblem = (message: string) => problems.validation([{ pointer: '/query/cursor', message }]);

/** The sort value as a cursor keeps it: timestamps as milliseconds (the columns' precision). */
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
  const page = query
    .clone()
    .orderBy([{ column: order.column, order: order.direction }, { column: order.id, order: order.direction }])
    // One row more than asked for tells whether there is a next page.
    .limit(limit + 1);
  if (after) {
    page.whereRaw(`(??, ??) ${order.direction === 'asc' ? '>' : '<'} (?, ?)`, [order.column, order.id, columnValue(after.value), after.id]);
  } else {
    page.offset(offset);
  }
  // Two statements, not one snapshot: a write in between can skew total by that row, which paging
  // could not promise to avoid anyway; and no transaction means no PGlite connection to hold.
  const [rows, total] = await Promise.all([page, query.clone().resultSize()]);
  const items = rows.slice(0, limit);
  const start = after?.position ?? offset;
  const last = items.at(-1) as Record<string, unknown> | undefined;
  const next_cursor =
    rows.length > limit && last
      ? cursors.encode({ value: cursorValue(last[propertyOf(order.column)]), id: String(last[propertyOf(order.id)]), position: start + items.length })
      : null;
  return { items, total, limit, offset: start, next_cursor };
}

/** `tasks.created_at` → `created_at`, the name the row has it under. */
const propertyOf = (column: string) => column.slice(column.lastIndexOf('.') + 1);
