import type { Knex } from 'knex';
import type { Config } from '../config.js';
import type { Task } from '../db/models/Task.js';
import { authed, type OperationHandlers, type ResponseBody } from '../http/operations.js';
import { json, noContent } from '../http/reply.js';
import { createIdempotency } from '../idempotency/idempotency.js';
import type { Cursors } from '../paging/cursor.js';
import { etagOf, names, preconditionsOf } from '../tasks/etag.js';
import { presentTask } from '../tasks/present.js';
import { createTasks, type TaskListing } from '../tasks/tasks.js';

const versioned = (status: number, task: Task, headers: Record<string, string> = {}) =>
  json(status, presentTask(task), { ETag: etagOf(task), ...headers });

export function taskHandlers(deps: { knex: Knex; config: Config; cursors: Cursors }): OperationHandlers {
  const tasks = createTasks(deps.knex, deps.cursors);
  const idempotency = createIdempotency(deps.knex, deps.config.idempotency);
  return {
    listTasks: authed(async ({ query }, caller) => {
      const page = await tasks.list(caller, query as TaskListing);
      return json(200, { ...page, items: page.items.map(presentTask) } satisfies ResponseBody<'listTasks', 200>);
    }),
    getTask: authed(async ({ params, headers }, caller) => {
      const { ifMatch, ifNoneMatch } = preconditionsOf(headers);
      const task = await tasks.get(caller, params.id, { ifMatch });
      return ifNoneMatch && names(ifNoneMatch, task) ? { status: 304, headers: { ETag: etagOf(task) } } : versioned(200, task);
    }),
    createTask: authed(async ({ body, headers }, caller) =>
      idempotency.once(caller, headers['idempotency-key'], body, async (db) => {
        const task = await tasks.create(caller, body, db);
        return { reply: versioned(201, task, { Location: `/tasks/${task.id}` }), taskId: task.id };
      }),
    ),
    updateTask: authed(async ({ params, body, headers }, caller) =>
      versioned(200, await tasks.update(caller, params.id, body, preconditionsOf(headers))),
    ),
    deleteTask: authed(async ({ params, headers }, caller) => {
      await tasks.remove(caller, params.id, preconditionsOf(headers));
      return noContent();
    }),
  };
}
