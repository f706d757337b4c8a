import type { Knex } from 'knex';
import type { Caller } from '../http/operations.js';
import { problems } from '../http/problem.js';
import type { Tokens } from './tokens.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The bearer check. Beyond the signature, one primary-key query confirms that the session is live
 * and the user active, and yields the role from the database rather than from the token, so
 * logout, deactivation and demotion stop an unexpired access token at once.
 */
export function createAuthenticator(deps: { knex: Knex; tokens: Tokens }) {
  return async function authenticate(token: string): Promise<Caller> {
    const claims = deps.tokens.verifyAccess(token);
    if (!UUID.test(claims.sid) || !UUID.test(claims.sub)) throw problems.unauthorized();
    const row = await deps.knex('sessions')
      .join('users', 'users.id', 'sessions.user_id')
      .where({ 'sessions.id': claims.sid, 'sessions.user_id': claims.sub, 'users.is_active': true })
      .whereNull('sessions.revoked_at')
      .first<{ role: Caller['role'] } | undefined>('users.role');
    if (!row) throw problems.unauthorized('The session has ended; log in again.');
    return { userId: claims.sub, role: row.role, sessionId: claims.sid };
  };
}
