import type { Knex } from 'knex';
import type { Auth } from '../auth/index.js';
import { authed, type OperationHandlers, type ResponseBody } from '../http/operations.js';
import { json } from '../http/reply.js';
import type { Cursors } from '../paging/cursor.js';
import type { PageRequest } from '../paging/page.js';
import { presentUser } from '../users/present.js';
import { createUsers } from '../users/users.js';

export function userHandlers(deps: { knex: Knex; auth: Auth; cursors: Cursors }): OperationHandlers {
  const users = createUsers({ knex: deps.knex, sessions: deps.auth.sessions, cursors: deps.cursors });
  return {
    listUsers: authed(async ({ query }, caller) => {
      // Validation has filled in the spec's defaults for limit and offset.
      const page = await users.list(caller, query as PageRequest);
      return json(200, { ...page, items: page.items.map(presentUser) } satisfies ResponseBody<'listUsers', 200>);
    }),
    getUser: authed(async ({ params }) => json(200, presentUser(await users.get(params.id)))),
    updateUser: authed(async ({ params, body }, caller) => json(200, presentUser(await users.update(caller, params.id, body)))),
  };
}
