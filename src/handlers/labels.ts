import type { Knex } from 'knex';
import { authed, type OperationHandlers, type ResponseBody } from '../http/operations.js';
import { json } from '../http/reply.js';
import { createLabelList } from '../tasks/label-list.js';

export function labelHandlers(deps: { knex: Knex }): OperationHandlers {
  const labels = createLabelList(deps.knex);
  return {
    listLabels: authed(async (_request, caller) => json(200, { items: await labels.list(caller) } satisfies ResponseBody<'listLabels', 200>)),
  };
}
