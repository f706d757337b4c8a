import type { Model, OrderByDirection, QueryBuilder } from 'objection';

export interface PageRequest {
  limit: number;
  offset: number;
}

/**
 * One page of `query` in `order`, and how many rows match over all pages. The order must end in
 * a unique column, or rows that tie could move between pages.
 */
export async function pageOf<M extends Model>(
  query: QueryBuilder<M, M[]>,
  order: [column: string, direction: OrderByDirection][],
  { limit, offset }: PageRequest,
) {
  // Two statements, not one snapshot: a write in between can skew total by that row, which offset
  // paging could not promise to avoid anyway; and no transaction means no PGlite connection to hold.
  const [items, total] = await Promise.all([
    query.clone().orderBy(order.map(([column, direction]) => ({ column, order: direction }))).limit(limit).offset(offset),
    query.clone().resultSize(),
  ]);
  return { items, total, limit, offset };
}
