import type { Auth } from '../auth/index.js';
import { bearerOf } from '../http/backend.js';
import { authed, type OperationHandlers, type ResponseBody } from '../http/operations.js';
import { json } from '../http/reply.js';
import type { Sync } from '../sync/index.js';

export function syncHandlers(deps: { sync: Sync; auth: Auth }): OperationHandlers {
  const { feed, streams } = deps.sync;
  return {
    listTaskChanges: authed(async ({ query }, caller) => {
      const position = feed.positionOf(caller, query.since, '/query/since');
      // ajv has filled in the default limit.
      return json(200, (await feed.page(caller, position, query.limit!)) satisfies ResponseBody<'listTaskChanges', 200>);
    }),
    streamTaskEvents: authed(async ({ query, headers }, caller) => {
      // A reconnecting EventSource sends its last event id along with the URL it first used.
      const lastEventId = headers['last-event-id'];
      const position =
        lastEventId === undefined ? feed.positionOf(caller, query.since, '/query/since') : feed.positionOf(caller, lastEventId, '/header/Last-Event-ID');
      // The bearer check has verified this token; the stream ends when it expires.
      const { exp } = deps.auth.tokens.verifyAccess(bearerOf(headers.authorization)!);
      return streams.open(caller, position, exp * 1000);
    }),
  };
}
