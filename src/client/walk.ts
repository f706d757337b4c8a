import type { Client } from 'openapi-fetch';
import type { paths } from '../../generated/openapi.js';
import { ok } from './index.js';

/** The listings that page with next_cursor. */
export type Listing = '/tasks' | '/users' | '/auth/sessions';
type Query<P extends Listing> = NonNullable<paths[P]['get']['parameters']['query']>;
type Page<P extends Listing> = paths[P]['get']['responses'][200]['content']['application/json'];
/** A walk's filters and page size; where to start is the walk's business. */
export type WalkQuery<P extends Listing> = Omit<Query<P>, 'cursor' | 'offset'>;

/**
 * Every item of a listing, in its order, one page at a time following `next_cursor`: no item is
 * repeated or skipped while others are added or removed during the walk. A failed page throws
 * an ApiProblem.
 *
 *     for await (const task of walk(api, '/tasks', { status: 'todo', sort: 'title' })) …
 */
export async function* walk<P extends Listing>(client: Client<paths>, path: P, query?: WalkQuery<P>): AsyncGenerator<Page<P>['items'][number]> {
  let cursor: string | undefined;
  do {
    // openapi-fetch cannot type a call whose path is a type parameter.
    const params = { query: { ...query, ...(cursor === undefined ? {} : { cursor }) } };
    const page = (await ok(client.GET(path as '/tasks', { params: params as never }))) as Page<P>;
    yield* page.items as Page<P>['items'];
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
}
