import type { Knex } from 'knex';
import { raw } from 'objection';
import { RefreshToken } from '../db/models/RefreshToken.js';
import { Session } from '../db/models/Session.js';

// Longer than any rate-limit window (LOGIN_WINDOW_SECONDS is at most a day).
const RATE_LIMIT_RETENTION = '2 days';

/**
 * Deletes what can no longer matter: refresh tokens past their expiry (their JWT is refused
 * anyway), sessions left without any token, and finished rate-limit windows. Each worker runs
 * it hourly; concurrent runs are harmless.
 */
export async function pruneExpired(knex: Knex): Promise<{ tokens: number; sessions: number; limits: number }> {
  return knex.transaction(async (trx) => {
    const tokens = await RefreshToken.query(trx).where('expires_at', '<', raw('now()')).delete();
    const sessions = await Session.query(trx).whereNotExists(Session.relatedQuery('refreshTokens')).delete();
    const limits = await trx('rate_limits')
      .where('window_started_at', '<', trx.raw(`now() - interval '${RATE_LIMIT_RETENTION}'`))
      .delete();
    return { tokens, sessions, limits };
  });
}
