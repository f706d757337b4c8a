import type { Knex } from 'knex';
import { raw } from 'objection';
import { IdempotencyKey } from '../db/models/IdempotencyKey.js';
import { RefreshToken } from '../db/models/RefreshToken.js';
import { Session } from '../db/models/Session.js';

// Rate-limit rows carry the end of their window as the writing process's clock saw it; an hour's
// margin keeps a machine whose clock runs behind from losing a live window.
const RATE_LIMIT_MARGIN_MS = 60 * 60 * 1000;

/**
 * Deletes what can no longer matter: refresh tokens past their expiry (their JWT is refused
 * anyway), sessions left without any token, finished rate-limit windows and expired idempotency
 * keys. Each worker runs it hourly; concurrent runs are harmless.
 */
export async function pruneExpired(knex: Knex): Promise<{ tokens: number; sessions: number; limits: number; idempotencyKeys: number }> {
  return knex.transaction(async (trx) => {
    const tokens = await RefreshToken.query(trx).where('expires_at', '<', raw('now()')).delete();
    const sessions = await Session.query(trx).whereNotExists(Session.relatedQuery('refreshTokens')).delete();
    const limits = await trx('rate_limiter').where('expire', '<', Date.now() - RATE_LIMIT_MARGIN_MS).delete();
    const idempotencyKeys = await IdempotencyKey.query(trx).where('expires_at', '<=', raw('now()')).delete();
    return { tokens, sessions, limits, idempotencyKeys };
  });
}
