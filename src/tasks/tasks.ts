import type { Knex } from 'knex';
import { Task } from '../db/models/Task.js';
import { instantOf } from '../http/date-time.js';
import type { Body, Caller, Query } from '../http/operations.js';
import { problems } from '../http/problem.js';
import type { Cursors } from '../paging/cursor.js';
import { pageOf, sortKey, type Order, type PageRequest } from '../paging/page.js';
import { names, type Preconditions } from './etag.js';
import { labelKey, repeatedLabels } from './labels.js';
import { rankOf } from './priority.js';
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
  nullsLast: sort.endsWith('due_at'),
});

/** A date-time the spec's format has already checked, as the instant it names. */
const dateOf = (text: string) => new Date(instantOf(text)!);

/** The planning fields of a body as the table stores them; undefined for those it leaves out. */
function planningColumns({ due_at, priority, labels }: Body<'createTask'> | Body<'updateTask'>) {
  if (labels) {
    const repeated = repeatedLabels(labels);
    if (repeated.length > 0) throw problems.validation(repeated);
  }
  return {
    due_at: due_at === undefined || due_at === null ? due_at : dateOf(due_at),
    priority: priority === undefined ? undefined : rankOf(priority),
    labels,
    label_keys: labels?.map(labelKey),
  };
}

const notFound = () => problems.notFound('The task does not exist.');
const changed = () => problems.preconditionFailed('The task has changed since you read it; fetch it again.');
const unchanged = () => problems.preconditionFailed('The task has a version that If-None-Match names.');

export function createTasks(knex: Knex, cursors: Cursors) {
  // Strictly later than the current version even within one millisecond, so every change gets a new ETag.
  const nextVersion = () => knex.raw("greatest(now(), updated_at + interval '1 millisecond')");

  /**
   * The task, scoped to the caller, narrowed to the versions its preconditions let a write
   * change: those If-Match names (`*`: any), and none that If-None-Match names (`*`: any).
   */
  const target = (caller: Caller, id: string, { ifMatch, ifNoneMatch }: Preconditions) => {
    const query = tasksVisibleTo(caller, knex).where('tasks.id', id);
    if (Array.isArray(ifMatch)) query.whereIn('tasks.updated_at', ifMatch);
    if (ifNoneMatch === 'any') query.whereRaw('false');
    else if (ifNoneMatch) query.whereNotIn('tasks.updated_at', ifNoneMatch);
    return query;
  };

  /**
   * The conditional write touched nothing: either there is no such task (for this caller), or a
   * precondition failed on the version it has. Asked after the write, so the write itself stays
   * atomic.
   */
  async function missed(caller: Caller, id: string, { ifMatch, ifNoneMatch }: Preconditions): Promise<never> {
    const conditional = Array.isArray(ifMatch) || ifNoneMatch !== undefined;
    const task = conditional ? await tasksVisibleTo(caller, knex).findById(id) : undefined;
    if (!task) throw notFound();
    throw ifMatch && !names(ifMatch, task) ? changed() : unchanged();
  }

  return {
    list(caller: Caller, { limit, offset, cursor, status, q, sort, owner_id, priority, label, due_before, due_after }: TaskListing) {
      const query = tasksVisibleTo(caller, knex);
      if (owner_id) query.where('tasks.owner_id', owner_id);
      if (status) query.where('tasks.status', status);
      if (q) query.where('tasks.title', 'ilike', containing(q));
      if (priority) query.where('tasks.priority', rankOf(priority));
      // The second condition follows from the first; the label index leaves out tasks without
      // labels, and the planner takes it only when the query says so in these words.
      if (label) query.whereRaw("tasks.label_keys @> array[?::text] and tasks.label_keys <> '{}'", [labelKey(label)]);
      if (due_before || due_after) {
        // On the expression that a due_at listing sorts on, so that its index range starts at the
        // bound. That expression puts tasks without due_at at its far end; the last condition
        // leaves them out.
        const due = sortKey(orderOf(sort === '-due_at' ? '-due_at' : 'due_at'));
        if (due_before) query.whereRaw(`${due} < ?`, ['tasks.due_at', dateOf(due_before)]);
        if (due_after) query.whereRaw(`${due} >= ?`, ['tasks.due_at', dateOf(due_after)]);
        query.whereNotNull('tasks.due_at');
      }
      // A cursor continues only the walk it came from: this caller, sort and filters, each as
      // compared (a label by its key, an instant whatever its offset). The filters of 1.2 join the
      // list only when given, so that cursors handed out by 1.1 stay valid.
      const planning = { priority, label: label && labelKey(label), due_before: due_before && instantOf(due_before), due_after: due_after && instantOf(due_after) };
      const scope = ['tasks', caller.userId, sort, status ?? null, q ?? null, owner_id ?? null];
      const listing = cursors.of(Object.values(planning).some((v) => v !== undefined) ? [...scope, planning] : scope);
      return pageOf(query, orderOf(sort), { limit, offset, cursor }, listing);
    },

    /** The task, once its If-Match holds (a read's If-None-Match is the caller's to answer: 304). */
    async get(caller: Caller, id: string, { ifMatch }: Preconditions = {}) {
      const task = await visibleTaskById(caller, knex, id);
      if (!task) throw notFound();
      if (ifMatch && !names(ifMatch, task)) throw changed();
      return task;
    },

    /** On `db`, which may be a transaction the task must be part of. */
    create(caller: Caller, body: Body<'createTask'>, db: Knex = knex) {
      const { title, description, status } = body;
      // Fields named one by one: owner and timestamps never come from the client, and what is
      // left out takes the table's defaults (description and due_at null, status todo, priority
      // none, no labels). completed_at is the database's (migrations: tasks_set_completed_at).
      return Task.query(db)
        .insert({ owner_id: caller.userId, title, description, status, ...planningColumns(body) })
        .returning('*')
        .onBuildKnex((builder) => builder.options({ name: 'task-insert' }));
    },

    async update(caller: Caller, id: string, body: Body<'updateTask'>, preconditions: Preconditions = {}) {
      const { title, description, status } = body;
      const columns = planningColumns(body);
      const [task] = await target(caller, id, preconditions)
        .patch({ title, description, status, ...columns, updated_at: nextVersion() })
        .returning('*')
        .onBuildKnex((builder) => builder.options({ name: 'task-update' }));
      return task ?? missed(caller, id, preconditions);
    },

    async remove(caller: Caller, id: string, preconditions: Preconditions = {}) {
      if ((await target(caller, id, preconditions).delete()) === 0) await missed(caller, id, preconditions);
    },
  };
}
