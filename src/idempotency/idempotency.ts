import type { Knex } from 'knex';
import { IdempotencyKey } from '../db/models/IdempotencyKey.js';
import type { Caller } from '../http/operations.js';
import { AppError } from '../http/problem.js';
import type { Reply } from '../http/reply.js';
import { capLockIdOf, fingerprintOf, lockIdOf, parseKey } from './key.js';

const POINTER = '/header/Idempotency-Key';

const inUse = () =>
  new AppError(409, 'idempotency-key-in-use', 'A request with this Idempotency-Key is still being processed; retry shortly.', {
    errors: [{ pointer: POINTER, message: 'is in use by a request that has not finished' }],
  });

const reused = () =>
  new AppError(422, 'idempotency-key-reused', 'This Idempotency-Key was already used with a different request body.', {
    errors: [{ pointer: POINTER, message: 'was already used with a different body; use a new key for a new request' }],
  });

/** What an idempotent operation did: its reply, and the task that reply holds. */
export interface Performed {
  reply: Reply;
  taskId: string;
}

/**
 * Idempotent requests (IETF httpapi Idempotency-Key draft). Each runs in one transaction that
 * first takes a transaction-scoped advisory lock on (caller, key): a second request with the key
 * while the first runs, in any process or instance on the database, fails to take it and gets 409
 * at once instead of waiting. The lock ends with the transaction, which also works through
 * PgBouncer's transaction pooling. The response is stored in that same transaction, so a request
 * that fails keeps nothing.
 *
 * A caller keeps at most `keysPerUser` stored responses: storing one more drops their oldest. The
 * caller's stores take turns (another advisory lock, on the caller), so that simultaneous creates
 * each see the others' keys and the bound holds exactly.
 */
export function createIdempotency(knex: Knex, settings: { keyTtlSeconds: number; keysPerUser: number }) {
  /** Drops the caller's oldest stored responses beyond the bound, this one's included in the count. */
  async function keepNewest(trx: Knex.Transaction, userId: string) {
    // Waits for the caller's other stores to commit; the next statement then counts their keys.
    await trx.raw('select pg_advisory_xact_lock(?::bigint)', [capLockIdOf(userId)]);
    const beyond = IdempotencyKey.query(trx)
      .select('key')
      .where('user_id', userId)
      // Rows stored before `stored` existed have none, and count as the oldest.
      .orderByRaw('stored desc nulls last')
      .offset(settings.keysPerUser);
    await IdempotencyKey.query(trx).where('user_id', userId).whereIn('key', beyond).delete();
  }

  return {
    /**
     * Runs `perform` at most once per caller and key; a retry with the same body gets the stored
     * reply again, plus `Idempotent-Replayed: true`. Without a key, `perform` simply runs.
     * `body` is the request body as the client sent it (validation never fills in body defaults).
     * `perform` must do all its work on the database it is given, and name the task its reply
     * holds: the stored reply goes when that task does.
     */
    async once(caller: Caller, header: string | undefined, body: unknown, perform: (db: Knex) => Promise<Performed>): Promise<Reply> {
      if (header === undefined) return (await perform(knex)).reply;
      const key = parseKey(header);
      const requestHash = fingerprintOf(body);
      return knex.transaction(async (trx) => {
        const { rows } = await trx.raw('select pg_try_advisory_xact_lock(?::bigint) as locked', [lockIdOf(caller.userId, key)]);
        if (!rows[0].locked) throw inUse();
        const stored = await IdempotencyKey.query(trx)
          .findById([caller.userId, key])
          .where('expires_at', '>', trx.fn.now());
        if (stored) {
          if (stored.request_hash !== requestHash) throw reused();
          return {
            status: stored.response_status,
            headers: { ...stored.response_headers, 'Idempotent-Replayed': 'true' },
            body: stored.response_body,
          };
        }
        const { reply, taskId } = await perform(trx);
        // Serialised once: the first answer and every replay are the same bytes.
        const body = JSON.stringify(reply.body);
        const row = {
          user_id: caller.userId,
          key,
          request_hash: requestHash,
          response_status: reply.status,
          response_headers: reply.headers ?? {},
          response_body: body,
          task_id: taskId,
          // Named, so that replacing an expired row also moves it to the newest place.
          stored: trx.raw('default'),
          created_at: trx.fn.now(),
          expires_at: trx.raw(`now() + make_interval(secs => ?)`, [settings.keyTtlSeconds]),
        };
        // Under the lock the only row in the way is an expired one that pruning has not reached yet.
        await IdempotencyKey.query(trx).insert(row).onConflict(['user_id', 'key']).merge();
        await keepNewest(trx, caller.userId);
        return { ...reply, body };
      });
    },
  };
}
