import type { Task } from '../db/models/Task.js';

/**
 * A strong validator: updated_at in milliseconds. Every change moves updated_at strictly forward,
 * and the response is a function of the row, so equal tags mean byte-identical representations.
 */
export const etagOf = (task: Pick<Task, 'updated_at'>) => `"${task.updated_at.getTime()}"`;

/** `any` for `*`, else the versions (updated_at values) an If-Match list names. */
export type Precondition = 'any' | Date[];

// No task is that new, and later dates do not survive the trip to PostgreSQL.
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * RFC 9110 If-Match: `*` or a list of entity-tags; undefined when there is no header. Weak tags
 * never match (If-Match compares strongly), and tags we could not have issued match nothing, so
 * they end in 412 rather than being ignored.
 */
export function parseIfMatch(header: string | undefined): Precondition | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return 'any';
  const versions: Date[] = [];
  for (const [, weak, tag] of header.matchAll(/(W\/)?"([^"]*)"/g)) {
    if (!weak && /^\d{1,15}$/.test(tag!) && Number(tag) <= LATEST) versions.push(new Date(Number(tag)));
  }
  return versions;
}

/**
 * RFC 9110 If-None-Match: whether it names the current version (`etag`, which is strong), so that
 * a GET can answer 304. Comparison is weak (`W/"1"` matches `"1"`), and `*` matches any task.
 */
export function notModified(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return [...header.matchAll(/(?:W\/)?("[^"]*")/g)].some(([, tag]) => tag === etag);
}
