import type { Task } from '../db/models/Task.js';

/**
 * A strong validator: updated_at in milliseconds. Every change moves updated_at strictly forward,
 * and the response is a function of the row, so equal tags mean byte-identical representations.
 */
export const etagOf = (task: Pick<Task, 'updated_at'>) => `"${task.updated_at.getTime()}"`;

/** `any` for `*`, else the versions (updated_at values) a list of entity-tags names. */
export type Precondition = 'any' | Date[];

/** The preconditions of a request on one task (RFC 9110 §13.1.1, §13.1.2); undefined: no such header. */
export interface Preconditions {
  ifMatch?: Precondition;
  ifNoneMatch?: Precondition;
}

// No task is that new, and later dates do not survive the trip to PostgreSQL.
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * `*` or a list of entity-tags. Tags we could not have issued name no version, so that with
 * If-Match they end in 412 rather than being ignored. If-Match compares strongly (a weak tag
 * never matches), If-None-Match weakly (`W/"1"` matches `"1"`).
 */
function versionsIn(header: string, comparison: 'strong' | 'weak'): Precondition {
  if (header.trim() === '*') return 'any';
  const versions: Date[] = [];
  for (const [, weak, tag] of header.matchAll(/(W\/)?"([^"]*)"/g)) {
    // As etagOf writes them: digits without leading zeros, so that only our own spelling matches.
    if ((comparison === 'weak' || !weak) && /^(?:0|[1-9]\d{0,14})$/.test(tag!) && Number(tag) <= LATEST) versions.push(new Date(Number(tag)));
  }
  return versions;
}

/** The preconditions that the headers of a request state. */
export const preconditionsOf = (headers: { 'if-match'?: string; 'if-none-match'?: string }): Preconditions => ({
  ifMatch: headers['if-match'] === undefined ? undefined : versionsIn(headers['if-match'], 'strong'),
  ifNoneMatch: headers['if-none-match'] === undefined ? undefined : versionsIn(headers['if-none-match'], 'weak'),
});

/** Whether `precondition` names the version `task` has (`*` names every task). */
export const names = (precondition: Precondition, task: Pick<Task, 'updated_at'>) =>
  precondition === 'any' || precondition.some((version) => version.getTime() === task.updated_at.getTime());
