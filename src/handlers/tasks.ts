import type { Knex } from 'knex';
import type { Task } from '../db/models/Task.js';
import { authed, type OperationHandlers, type ResponseBody } from '../http/operations.js';
import { json, noContent } from '../http/reply.js';
import { etagOf } from '../tasks/etag.js';
import { presentTask } from '../tasks/present.js';
import { createTasks, type TaskListing } from '../tasks/tasks.js';

const versioned = (status: number, task: Task, headers: Record<string, string> = {}) =>
  json(status, presentTask(task), { ETag: etagOf(task), ...headers });

export function taskHandlers(deps: { knex: Knex }): OperationHandlers {
  const tasks = createTasks(deps.knex);
  return {
    listTasks: authed(async ({ query }, caller) => {
      const page = await tasks.list(caller, query as TaskListing);
      return json(200, { ...page, items: page.items.map(presentTask) } satisfies ResponseBody<'listTasks', 200>);
    }),
    getTask: authed(async ({ params }, caller) => versioned(200, await tasks.get(caller, params.id))),
    createTask: authed(async ({ body }, caller) => {
      const task = await tasks.create(caller, body);
      return versioned(201, task, { Location: `/tasks/${task.id}` });
    }),
    updateTask: authed(async ({ params, body, headers }, caller) =>
      versioned(200, await tasks.update(caller, params.id, body, headers['if-match'])),
    ),
    deleteTask: authed(async ({ params, headers }, caller) => {
      await tasks.remove(caller, params.id, headers['if-match']);
      return noContent();
    }),
  };
}
