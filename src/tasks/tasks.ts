import type { Knex } from 'knex';
import { Task } from '../db/models/Task.js';
import type { Body, Caller, Query } from '../http/operations.js';
import { problems } from '../http/problem.js';
import type { Cursors } from '../paging/cursor.js';
import { pageOf, type Order, type PageRequest } from '../paging/page.js';
import { parseIfMatch, type Precondition } from './etag.js';
import { tasksVisibleTo, visibleTaskById } from './scope.js';

type Sort = NonNullable<Query<'listTasks'>['sort']>;
/** The listing parameters once validation has filled in the spec's defaults (ajv useDefaults). */
export type TaskListing = Query<'listTasks'> & PageRequest & { sort: Sort };

// `%`, `_` and `\` are LIKE syntax; escaped, the user's text is matched literally.
const containing = (text: string) => `%${text.replace(/[\\%_]/g, '\\$&')}%`;

const orderOf = (sort: Sort): Order => ({
  column: `tasks.${sort.replace(/^-/, '')}`,
  id: 'tasks.id',
  direction: sort.startsWith('-') ? 'desc' : 'asc',
});

const notFound = () => problems.notFound('The task does not exist.');

export function createTasks(knex: Knex, cursors: Cursors) {
  // Strictly later than the current version even within one millisecond, so every change gets a new ETag.
  const nextVersion = () => knex.raw("greatest(now(), updated_at + interval '1 millisecond')");

  /** The task, scoped to the caller, narrowed to the versions If-Match accepts. */
  const target = (caller: Caller, id: string, precondition: Precondition | undefined) => {
    const query = tasksVisibleTo(caller, knex).where('tasks.id', id);
    return Array.isArray(precondition) ? query.whereIn('tasks.updated_at', precondition) : query;
  };

  /**
   * The conditional write touched nothing: either there is no such task (for this caller), or it
   * exists at another version. Asked after the write, so the write itself stays atomic.
   */
  async function missed(caller: Caller, id: string, precondition: Precondition | undefined): Promise<never> {
    if (Array.isArray(precondition) && (await tasksVisibleTo(caller, knex).findById(id))) {
      throw problems.preconditionFailed('The task has changed since you read it; fetch it again.');
    }
    throw notFound();
  }

  return {
    list(caller: Caller, { limit, offset, cursor, status, q, sort, owner_id }: TaskListing) {
      const query = tasksVisibleTo(caller, knex);
      if (owner_id) query.where('tasks.owner_id', owner_id);
      if (status) query.where('tasks.status', status);
      if (q) query.where('tasks.title', 'ilike', containing(q));
      // A cursor continues only the walk it came from: this caller, sort and filters.
      const listing = cursors.of(['tasks', caller.userId, sort, status ?? null, q ?? null, owner_id ?? null]);
      return pageOf(query, orderOf(sort), { limit, offset, cursor }, listing);
    },

    async get(caller: Caller, id: string) {
      const task = await visibleTaskById(caller, knex, id);
      if (!task) throw notFound();
      return task;
    },

    /** On `db`, which may be a transaction the task must be part of. */
    create(caller: Caller, { title, description, status }: Body<'createTask'>, db: Knex = knex) {
      // Fields named one by one: owner and timestamps never come from the client, and what is
      // left out takes the table's defaults (description null, status todo).
      return Task.query(db).insert({ owner_id: caller.userId, title, description, status }).returning('*');
    },

    async update(caller: Caller, id: string, { title, description, status }: Body<'updateTask'>, ifMatch?: string) {
      const precondition = parseIfMatch(ifMatch);
      const [task] = await target(caller, id, precondition)
        .patch({ title, description, status, updated_at: nextVersion() })
        .returning('*');
      return task ?? missed(caller, id, precondition);
    },

    async remove(caller: Caller, id: string, ifMatch?: string) {
      const precondition = parseIfMatch(ifMatch);
      if ((await target(caller, id, precondition).delete()) === 0) await missed(caller, id, precondition);
    },
  };
}
