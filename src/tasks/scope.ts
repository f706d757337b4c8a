import type { Knex } from 'knex';
import { Task } from '../db/models/Task.js';
import type { Caller } from '../http/operations.js';

/**
 * Every task query starts here, so ownership is enforced in one place: a user reaches only their
 * own tasks, and someone else's task looks exactly like one that does not exist (404, not 403).
 */
export const tasksVisibleTo = (caller: Caller, knex: Knex) =>
  caller.role === 'admin' ? Task.query(knex) : Task.query(knex).where('tasks.owner_id', caller.userId);

// GET /tasks/{id}, the commonest read, with its text written once: building it with Objection per
// request was a tenth of the request's CPU time under load (bench/load, profile of `get`). Both
// are prepared once per connection (src/db/knex.ts).
const ANY_TASK = 'select * from tasks where id = ?';
const OWN_TASK = 'select * from tasks where id = ? and owner_id = ?';

/** The task with this id, as tasksVisibleTo would find it. */
export async function visibleTaskById(caller: Caller, knex: Knex, id: string): Promise<Task | undefined> {
  const { rows } = await (caller.role === 'admin'
    ? knex.raw<{ rows: object[] }>(ANY_TASK, [id]).options({ name: 'any-task' })
    : knex.raw<{ rows: object[] }>(OWN_TASK, [id, caller.userId]).options({ name: 'own-task' }));
  return rows[0] && Task.fromDatabaseJson(rows[0]);
}
