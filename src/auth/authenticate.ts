import type { Knex } from 'knex';
import type { Caller } from '../http/operations.js';
import { problems } from '../http/problem.js';
import type { Tokens } from './tokens.js';

// Every authenticated request runs this, so its text is written once rather than built per
// request by Objection, whose relation join showed in a profile of GET /tasks under load; and it
// is prepared once per connection (src/db/knex.ts).
const LIVE_SESSION_ROLE = `
  select users.role from sessions join users on users.id = sessions.user_id
  where sessions.id = ? and sessions.user_id = ? and users.is_active and sessions.revoked_at is null`;

/**
 * The bearer check. Beyond the signature, one primary-key query confirms that the session is live
 * and the user active, and yields the role from the database rather than from the token, so
 * logout, deactivation and demotion stop an unexpired access token at once. `admit` runs between
 * the two, with the signed user id: a request it refuses (a user past its fair share) costs no
 * query, however many of them a user sends.
 */
export function createAuthenticator(deps: { knex: Knex; tokens: Tokens }) {
  return async function authenticate(token: string, admit?: (userId: string) => Promise<void>): Promise<Caller> {
    const claims = deps.tokens.verifyAccess(token);
    await admit?.(claims.sub);
    const { rows } = await deps.knex.raw<{ rows: Pick<Caller, 'role'>[] }>(LIVE_SESSION_ROLE, [claims.sid, claims.sub]).options({ name: 'live-session' });
    if (rows.length === 0) throw problems.unauthorized('The session has ended; log in again.');
    return { userId: claims.sub, role: rows[0]!.role, sessionId: claims.sid };
  };
}
