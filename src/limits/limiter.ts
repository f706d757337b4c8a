import type { Knex } from 'knex';
import pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { isEmbedded } from '../db/knex.js';
import { problems } from '../http/problem.js';

export interface Limiter {
  /** Counts one hit for `key`; past the limit, throws 429 with Retry-After. */
  take(key: string): Promise<void>;
  /** Forgets what `key` has counted. */
  clear(key: string): Promise<void>;
}

/** Counts requests in flight per key: a slot is taken when one starts and given back when it ends. */
export interface Slots {
  /** Takes one of `key`'s slots, or throws 429 with Retry-After when all are taken; resolves to its release. */
  take(key: string): Promise<() => Promise<void>>;
}

export interface LimitSettings {
  /** Prefix of its keys in the store. */
  name: string;
  /** Hits allowed per window; 0 turns the limit off. */
  points: number;
  windowSeconds: number;
  /** The 429's detail. */
  detail: string;
}

// The limiter's own connections, so that it can never take the connections other requests need.
const POOL_SIZE = 2;
const CONNECT_TIMEOUT_MS = 10_000;
const TABLE = 'rate_limiter';

/**
 * rate-limiter-flexible's PostgreSQL store over a small pool of its own (so every process and
 * machine shares the counts), with an in-memory block once a key is over its limit: until its
 * window ends, that key's requests are refused without touching the database.
 *
 * On the embedded database the counts are kept in memory instead: PGlite serves one process by
 * construction (config refuses WEB_CONCURRENCY > 1 without DATABASE_URL), so memory is shared by
 * everyone who can reach it; and the library's PostgreSQL store cannot talk to PGlite through
 * knex-pglite (it hands PGlite a pg-style query object, which PGlite refuses).
 */
export function createLimiterStore(knex: Knex) {
  const pool = isEmbedded(knex) ? undefined : ownPool(knex);
  // Unnamed queries: PgBouncer in transaction mode cannot keep named prepared statements.
  const storeClient = pool && { query: ({ text, values }: pg.QueryConfig) => pool.query(text, values) };

  const make = ({ name, points, windowSeconds }: LimitSettings, blockInMemory = true): RateLimiterAbstract =>
    storeClient
      ? new RateLimiterPostgres({
          storeClient,
          storeType: 'pool',
          tableName: TABLE,
          tableCreated: true, // by migration
          clearExpiredByTimeout: false, // pruneExpired does it
          keyPrefix: name,
          points,
          duration: windowSeconds,
          inMemoryBlockOnConsumed: blockInMemory ? points + 1 : undefined,
        })
      : new RateLimiterMemory({ keyPrefix: name, points, duration: windowSeconds });

  return {
    limiter(settings: LimitSettings): Limiter {
      if (settings.points === 0) return { take: async () => {}, clear: async () => {} };
      const limiter = make(settings);
      const inTurn = oneAtATimePerKey();
      return {
        async take(key) {
          try {
            await inTurn(key, () => limiter.consume(key));
          } catch (error) {
            // The library rejects with its result when over the limit, and with an Error when the store fails.
            if (error instanceof RateLimiterRes) throw problems.tooManyRequests(error.msBeforeNext / 1000, settings.detail);
            throw error;
          }
        },
        async clear(key) {
          await limiter.delete(key);
        },
      };
    },
    /**
     * `points` slots per key, counted in the store so that every process shares them: a request
     * consumes a point when it starts and is rewarded it back when it ends. A process that dies
     * mid-request never gives its slots back, so the count is a window of `windowSeconds` that
     * starts afresh when it ends (a crash costs a user at most that long). Each window counts
     * under a key of its own, `<key>@<window number>`, and a request gives its point back to the
     * window it took it from whenever it ends: the next window never counted it, and a window that
     * is over is asked by no one. (Points given back only to a window with a second still to run
     * left every request that ended in its last second counted: a user whose short requests kept
     * every slot busy, never more than `points` in flight, was refused for the rest of it.) Each
     * process also counts its own slots and refuses past `points` without asking the store, so a
     * flood costs the store little.
     */
    slots(settings: LimitSettings & { retryAfterSeconds: number }): Slots {
      const free = async () => {};
      if (settings.points === 0) return { take: async () => free };
      const limiter = make(settings, false);
      const inTurn = oneAtATimePerKey();
      const here = new Map<string, number>();
      const count = (key: string, by: number) => {
        const n = (here.get(key) ?? 0) + by;
        if (n === 0) here.delete(key);
        else here.set(key, n);
        return n;
      };
      const windowMs = settings.windowSeconds * 1000;
      const giveBack = (stored: string) => inTurn(stored, () => limiter.reward(stored));
      const refuse = () => problems.tooManyRequests(settings.retryAfterSeconds, settings.detail);
      return {
        async take(key) {
          if (count(key, 1) > settings.points) {
            count(key, -1);
            throw refuse();
          }
          const stored = `${key}@${Math.floor(Date.now() / windowMs)}`;
          try {
            await inTurn(stored, () => limiter.consume(stored));
          } catch (error) {
            count(key, -1);
            if (!(error instanceof RateLimiterRes)) throw error;
            // Refused, yet counted: the point goes back, or every later request would be refused too.
            await giveBack(stored).catch(() => undefined);
            throw refuse();
          }
          let released = false;
          return async () => {
            if (released) return;
            released = true;
            count(key, -1);
            // A store that fails here costs the user a slot until the window ends, not the answer.
            await giveBack(stored).catch(() => undefined);
          };
        },
      };
    },
    close: async () => {
      await pool?.end();
    },
  };
}

/**
 * Runs calls for one key one after another, and calls for different keys side by side. Hits on
 * one key are updates of one row, which the database runs one at a time anyway; queued here
 * rather than on the row's lock, a flood on one key holds at most one of the pool's connections,
 * and every other key's hit finds one free instead of waiting behind the flood.
 */
function oneAtATimePerKey() {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, call: () => Promise<T>): Promise<T> => {
    const previous = tails.get(key);
    const result = previous ? previous.then(call) : call();
    const tail = result.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return result;
  };
}

function ownPool(knex: Knex): pg.Pool {
  const { connectionString } = knex.client.config.connection as { connectionString: string };
  const pool = new pg.Pool({ connectionString, max: POOL_SIZE, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle connection that breaks (a server restart) is dropped by the pool, and the next query
  // reconnects; without a listener the event would end the process.
  pool.on('error', () => {});
  return pool;
}
