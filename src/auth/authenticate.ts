import type { Knex } from 'knex';
import { Session } from '../db/models/Session.js';
import type { Caller } from '../http/operations.js';
import { problems } from '../http/problem.js';
import type { Tokens } from './tokens.js';

/**
 * The bearer check. Beyond the signature, one primary-key query confirms that the session is live
 * and the user active, and yields the role from the database rather than from the token, so
 * logout, deactivation and demotion stop an unexpired access token at once.
 */
export function createAuthenticator(deps: { knex: Knex; tokens: Tokens }) {
  return async function authenticate(token: string): Promise<Caller> {
    const claims = deps.tokens.verifyAccess(token);
    const row = (await Session.query(deps.knex)
      .joinRelated('user')
      .findById(claims.sid)
      .where({ 'sessions.user_id': claims.sub, 'user.is_active': true })
      .whereNull('sessions.revoked_at')
      .select('user.role')) as unknown as Pick<Caller, 'role'> | undefined;
    if (!row) throw problems.unauthorized('The session has ended; log in again.');
    return { userId: claims.sub, role: row.role, sessionId: claims.sid };
  };
}
