import type { Knex } from 'knex';
import { raw } from 'objection';
import { IdempotencyKey } from '../db/models/IdempotencyKey.js';
import { RefreshToken } from '../db/models/RefreshToken.js';
import { Session } from '../db/models/Session.js';

// Longer than any rate-limit window (LOGIN_WINDOW_SECONDS is at most a day).
const RATE_LIMIT_RETENTION = '2 days';

/**
 * Deletes what can no longer matter: refresh tokens past their expiry (their JWT is refused
 * anyway), sessions left without any token, finished rate-limit windows and expired idempotency
 * keys. Each worker runs it hourly; concurrent runs are harmless.
 */
export async function pruneExpired(knex: Knex): Promise<{ tokens: number; sessions: number; limits: number; idempotencyKeys: number }> {
  return knex.transaction(async (trx) => {
    const tokens = await RefreshToken.query(trx).where('expires_at', '<', raw('now()')).delete();
    const sessions = await Session.query(trx).whereNotExists(Session.relatedQuery('refreshTokens')).delete();
    const limits = await trx('rate_limits')
      .where('window_started_at', '<', trx.raw(`now() - interval '${RATE_LIMIT_RETENTION}'`))
      .delete();
    const idempotencyKeys = await IdempotencyKey.query(trx).where('expires_at', '<=', raw('now()')).delete();
    return { tokens, sessions, limits, idempotencyKeys };
  });
}
