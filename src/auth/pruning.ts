import type { Knex } from 'knex';
import { raw } from 'objection';
import { IdempotencyKey } from '../db/models/IdempotencyKey.js';
import { RefreshToken } from '../db/models/RefreshToken.js';
import { Session } from '../db/models/Session.js';

// Rate-limit rows carry the end of their window as the writing process's clock saw it; an hour's
// margin keeps a machine whose clock runs behind from losing a live window.
const RATE_LIMIT_MARGIN_MS = 60 * 60 * 1000;
// Failed-login windows last at most LOGIN_WINDOW_SECONDS' largest value, a day.
const LOGIN_WINDOW_RETENTION = "interval '1 day'";
// A mail sent or given up keeps its address and times (never its link) this long, for questions
// such as "did my reset mail go?".
const FINISHED_MAIL_RETENTION = "interval '7 days'";
// A tombstone's deleted_at is its transaction's start, which can be well before the commit that a
// feed position may just have missed; a day more than the positions live covers any transaction
// (and clocks that disagree), so no position still accepted can need a pruned tombstone.
const TOMBSTONE_MARGIN_SECONDS = 86_400;
const DEFAULT_SYNC_RETENTION_SECONDS = 30 * 86_400;

/**
 * Deletes what can no longer matter: refresh tokens past their expiry (their JWT is refused
 * anyway), sessions that were ended (their tokens are refused whether the row is there or not)
 * or left without any token, finished rate-limit and failed-login windows, expired idempotency
 * keys, mails sent or given up a week ago, tombstones older than any feed position still accepted
 * (SYNC_RETENTION_SECONDS) and the registrations of event streams whose process stopped renewing
 * them. Each worker runs it hourly; concurrent runs are harmless.
 */
export async function pruneExpired(
  knex: Knex,
  { syncRetentionSeconds = DEFAULT_SYNC_RETENTION_SECONDS } = {},
): Promise<{ tokens: number; sessions: number; limits: number; idempotencyKeys: number; mails: number; tombstones: number; streams: number }> {
  return knex.transaction(async (trx) => {
    const tokens = await RefreshToken.query(trx).where('expires_at', '<', raw('now()')).delete();
    const sessions = await Session.query(trx)
      .whereNotNull('revoked_at')
      .orWhereNotExists(Session.relatedQuery('refreshTokens'))
      .delete();
    const limits =
      (await trx('rate_limiter').where('expire', '<', Date.now() - RATE_LIMIT_MARGIN_MS).delete()) +
      (await trx('login_failures').where('window_started_at', '<', trx.raw(`now() - ${LOGIN_WINDOW_RETENTION}`)).delete());
    const idempotencyKeys = await IdempotencyKey.query(trx).where('expires_at', '<=', raw('now()')).delete();
    const mails = await trx('mail_outbox').whereNot('state', 'queued').where('finished_at', '<', trx.raw(`now() - ${FINISHED_MAIL_RETENTION}`)).delete();
    const tombstones = await trx('task_tombstones')
      .where('deleted_at', '<', trx.raw('now() - make_interval(secs => ?)', [syncRetentionSeconds + TOMBSTONE_MARGIN_SECONDS]))
      .delete();
    const streams = await trx('task_streams').where('lease_until', '<', trx.raw('now()')).delete();
    return { tokens, sessions, limits, idempotencyKeys, mails, tombstones, streams };
  });
}
