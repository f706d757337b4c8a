import type { Knex } from 'knex';
import { raw } from 'objection';
import type { components } from '../../generated/openapi.js';
import { Session } from '../db/models/Session.js';
import type { Caller } from '../http/operations.js';
import { problems } from '../http/problem.js';
import type { Cursors } from '../paging/cursor.js';
import { pageOf, type Order } from '../paging/page.js';

type SessionView = components['schemas']['Session'];
type SessionPage = components['schemas']['SessionList'];

const NEWEST_FIRST: Order = { column: 'sessions.created_at', id: 'sessions.id', direction: 'desc' };

/** The caller's sessions that still work: not ended, and holding a refresh token that is unspent and unexpired. */
const liveSessionsOf = (knex: Knex, caller: Caller) =>
  Session.query(knex)
    .where('sessions.user_id', caller.userId)
    .whereNull('sessions.revoked_at')
    .whereExists(Session.relatedQuery('refreshTokens').whereNull('spent_at').where('expires_at', '>', raw('now()')));

const present = (session: Session, caller: Caller): SessionView => ({
  id: session.id,
  created_at: session.created_at.toISOString(),
  last_used_at: session.last_used_at.toISOString(),
  user_agent: session.user_agent,
  current: session.id === caller.sessionId,
});

/** Where the caller is logged in, and ending one of those sessions. */
export function createSessionList(knex: Knex, cursors: Cursors) {
  return {
    async list(caller: Caller, page: { limit: number; cursor?: string }): Promise<SessionPage> {
      const { items, limit, next_cursor } = await pageOf(liveSessionsOf(knex, caller), NEWEST_FIRST, { ...page, offset: 0 }, cursors.of(['sessions', caller.userId]));
      return { items: items.map((s) => present(s, caller)), limit, next_cursor };
    },

    /** Ends one live session of the caller; refresh and access tokens stop working at once. */
    async end(caller: Caller, id: string) {
      const ended = await liveSessionsOf(knex, caller).findById(id).patch({ revoked_at: raw('now()') as unknown as Date });
      if (ended === 0) throw problems.notFound('You have no live session with this id.');
    },
  };
}

export type SessionList = ReturnType<typeof createSessionList>;
