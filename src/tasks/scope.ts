import type { Knex } from 'knex';
import { Task } from '../db/models/Task.js';
import type { Caller } from '../http/operations.js';

/**
 * Every task query starts here, so ownership is enforced in one place: a user reaches only their
 * own tasks, and someone else's task looks exactly like one that does not exist (404, not 403).
 */
export const tasksVisibleTo = (caller: Caller, knex: Knex) =>
  caller.role === 'admin' ? Task.query(knex) : Task.query(knex).where('tasks.owner_id', caller.userId);
