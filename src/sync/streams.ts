import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Caller } from '../http/operations.js';
import { AppError, problems } from '../http/problem.js';
import type { Outlet, Reply } from '../http/reply.js';
import type { ChangeFeed } from './changes.js';
import { readFeed } from './feed.js';
import type { ChangeListener } from './listener.js';
import type { Position } from './position.js';

/** What the streams report to the metrics (src/metrics.ts), when they are on. */
export interface StreamMetrics {
  opened(): void;
  closed(): void;
  /** An event written; `lagSeconds` for live changes: from the change's transaction to now. */
  sent(event: 'upsert' | 'delete', lagSeconds?: number): void;
}

export const MAX_STREAMS_PER_USER = 5;
// The registry row of a stream lives this long unless its process renews it: a crashed process's
// streams stop counting against their users (and stop being notified) within a minute.
const LEASE_SECONDS = 60;
const RENEW_EVERY_MS = 20_000;
// Proxies close idle connections (nginx after 60 s by default); the contract says every 15 s at most.
const HEARTBEAT_EVERY_MS = 10_000;
// Sessions end by logout, logout-all, deletion, a password change, deactivation, or any SQL: their
// state is checked for all streams of the process in one query, so every path ends a stream
// within this plus a query, well inside the contract's 5 s.
const SESSION_CHECK_EVERY_MS = 2_000;
// Notifications are hints (listener.ts); a stream also reads its feed this often, with a random
// spread so that a thousand streams opened together do not read together.
const SAFETY_POLL_MS = 30_000;
const PAGE = 100;
// On shutdown, clients are told to reconnect after 1–5 s: spread, so they do not all arrive at once.
const RETRY_MIN_MS = 1_000;
const RETRY_SPREAD_MS = 4_000;

// Registering takes the owner's lock that every task write holds shared until it commits (the
// tasks trigger, migrations/20261204000200_create_task_changes.ts), exclusively: see open(). The
// same lock serialises a user's registrations, so they count each other (taken for the transaction,
// it works through PgBouncer's transaction pooling).
const LOCK_OWNER = "select pg_advisory_xact_lock(hashtextextended('task_changes ' || ?, 0))";
// While a registration waits for the lock, the owner's next writes queue behind it: a write that
// runs long (a stuck transaction) must not hold them all up, so the registration gives up (503).
const LOCK_WAIT = 'set local lock_timeout = 3000';
const LOCK_NOT_AVAILABLE = '55P03';
const REGISTER = `
  with live as (select count(*) as n from task_streams where user_id = :user and lease_until > now()),
  expired as (delete from task_streams where user_id = :user and lease_until <= now())
  insert into task_streams (id, user_id, session_id, lease_until)
  select :id, :user, :session, now() + make_interval(secs => :lease) from live where n < :max
  returning id`;
const RENEW = 'update task_streams set lease_until = now() + make_interval(secs => ?) where id = any(?::uuid[])';
const UNREGISTER = 'delete from task_streams where id = ?';
const LIVE_SESSIONS = `
  select s.id from sessions s join users u on u.id = s.user_id
  where s.id = any(?::uuid[]) and s.revoked_at is null and u.is_active`;

interface Stream {
  caller: Caller;
  id: string;
  heartbeat(): void;
  end(retryMs?: number): void;
}

const eventText = (event: string, id: string, data: unknown) => `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;

/** GET /tasks/events: each open stream of this process, and what they share. */
export function createEventStreams(deps: { knex: Knex; feed: ChangeFeed; listener: ChangeListener; logger: Logger; metrics?: StreamMetrics }) {
  const { knex, feed, listener, logger, metrics } = deps;
  const streams = new Set<Stream>();
  // Registrations being removed: closing waits for them, while the database is still there.
  const unregistering = new Set<Promise<unknown>>();
  let closing = false;
  let timers: NodeJS.Timeout[] = [];

  // Process-wide chores, running only while this process has streams.
  function startChores() {
    if (timers.length > 0) return;
    const each = (ms: number, chore: () => Promise<unknown> | void) =>
      setInterval(() => void Promise.resolve(chore()).catch((err) => logger.warn({ err }, 'an event stream chore failed')), ms).unref();
    timers = [
      each(HEARTBEAT_EVERY_MS, () => streams.forEach((s) => s.heartbeat())),
      each(RENEW_EVERY_MS, () => knex.raw(RENEW, [LEASE_SECONDS, [...streams].map((s) => s.id)])),
      each(SESSION_CHECK_EVERY_MS, async () => {
        const checked = new Set([...streams].map((s) => s.caller.sessionId));
        const { rows } = await knex.raw<{ rows: { id: string }[] }>(LIVE_SESSIONS, [[...checked]]);
        const live = new Set(rows.map((r) => r.id));
        // Only the sessions asked about: a stream opened during the query is not known to be dead.
        for (const stream of streams) if (checked.has(stream.caller.sessionId) && !live.has(stream.caller.sessionId)) stream.end();
      }),
    ];
  }
  function stopChoresIfIdle() {
    if (streams.size > 0) return;
    timers.forEach(clearInterval);
    timers = [];
  }

  async function register(caller: Caller): Promise<string | undefined> {
    const id = randomUUID();
    return knex.transaction(async (trx) => {
      await trx.raw(LOCK_WAIT);
      await trx.raw(LOCK_OWNER, [caller.userId]).catch((error: { code?: string }) => {
        throw error.code === LOCK_NOT_AVAILABLE ? problems.unavailable('Your tasks are being written by a long transaction; try again shortly.', 3) : error;
      });
      const { rows } = await trx.raw<{ rows: unknown[] }>(REGISTER, {
        id, user: caller.userId, session: caller.sessionId, lease: LEASE_SECONDS, max: MAX_STREAMS_PER_USER,
      });
      return rows.length > 0 ? id : undefined;
    });
  }

  function run(out: Outlet, caller: Caller, id: string, start: Position, expiresAt: number) {
    let position = start;
    let ended = false;
    let live = false;
    let due = true;
    let signal: (() => void) | undefined;
    const wake = () => {
      due = true;
      signal?.();
    };
    const unwatch = listener.watch(caller.userId, wake);
    const expiry = setTimeout(() => stream.end(), Math.max(0, expiresAt - Date.now()));

    const stream: Stream = {
      caller,
      id,
      heartbeat: () => out.write(': keep-alive\n\n'),
      end(retryMs) {
        if (ended) return;
        ended = true;
        streams.delete(stream);
        stopChoresIfIdle();
        metrics?.closed();
        unwatch();
        clearTimeout(expiry);
        signal?.();
        if (retryMs !== undefined) out.write(`retry: ${retryMs}\n\n`);
        out.end();
        const done = knex.raw(UNREGISTER, [id]).catch((err) => logger.warn({ err }, 'could not unregister an event stream'));
        unregistering.add(done);
        void done.finally(() => unregistering.delete(done));
      },
    };
    streams.add(stream);
    metrics?.opened();
    startChores();
    void out.closed.then(() => stream.end());

    const nextWake = () =>
      new Promise<void>((resolve) => {
        if (due || ended) return resolve();
        const timer = setTimeout(wake, SAFETY_POLL_MS * (0.75 + Math.random() / 2));
        signal = () => {
          clearTimeout(timer);
          resolve();
        };
      });

    /** Writes every change after `position`, page by page, waiting for a slow client to take them. */
    async function drain() {
      for (;;) {
        const page = await readFeed(knex, caller.userId, position, PAGE);
        for (const { change, position: after } of page.entries) {
          if (ended) return;
          const data = feed.present(change);
          const written = out.write(eventText(data.type, feed.token(caller, after), data));
          const at = change.type === 'upsert' ? change.task.updated_at : change.deleted_at;
          metrics?.sent(data.type, live ? (Date.now() - at.getTime()) / 1000 : undefined);
          if (!written) await out.drained();
        }
        position = page.next;
        if (!page.hasMore) return;
      }
    }

    const loop = async () => {
      while (!ended) {
        await nextWake();
        signal = undefined;
        if (ended) return;
        due = false;
        await drain();
        if (ended) return;
        if (!live) {
          live = true;
          const token = feed.token(caller, position);
          out.write(eventText('ready', token, { next_since: token }));
        }
      }
    };
    loop().catch((err) => {
      // The client reconnects with its last event id and misses nothing.
      logger.warn({ err }, 'an event stream failed; ending it');
      stream.end(RETRY_MIN_MS + Math.floor(Math.random() * RETRY_SPREAD_MS));
    });
  }

  return {
    /**
     * Opens a stream of `caller`'s changes after `position` until `expiresAt` (ms; the access
     * token's expiry): 429 when the user already has MAX_STREAMS_PER_USER, 503 while shutting down.
     *
     * Why no change slips between registering and the first read: a write notifies only owners
     * with a registered stream, and looks for one before it commits. A write that looked just
     * before the registration committed, and committed after the stream's first read, would be
     * neither read nor notified. But every task write holds its owner's lock shared from that look
     * until it commits, and registering takes the lock exclusively: it waits for every write that
     * has looked, so they have all committed before the first read's snapshot is taken, and any
     * write that looks later waits for the registration to commit and then finds it. The stream
     * watches for notifications before its first read, so one sent in between is not lost either.
     */
    async open(caller: Caller, position: Position, expiresAt: number): Promise<Reply> {
      if (closing) throw problems.unavailable('The server is shutting down; reconnect.', 1);
      const id = await register(caller);
      if (!id) {
        throw new AppError(429, 'too-many-streams', `You already have ${MAX_STREAMS_PER_USER} event streams open; close one first.`, {
          headers: { 'Retry-After': String(LEASE_SECONDS) },
        });
      }
      return {
        status: 200,
        contentType: 'text/event-stream',
        // nginx buffers responses unless told otherwise.
        headers: { 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' },
        stream: (out) => run(out, caller, id, position, expiresAt),
      };
    },

    /** Graceful shutdown: ends every stream with a `retry:` hint, and refuses new ones. */
    endAll() {
      closing = true;
      for (const stream of streams) stream.end(RETRY_MIN_MS + Math.floor(Math.random() * RETRY_SPREAD_MS));
    },

    /** How many streams this process has open. */
    get size() {
      return streams.size;
    },

    async close() {
      closing = true;
      for (const stream of streams) stream.end();
      await Promise.all([...unregistering, listener.close()]);
    },
  };
}

export type EventStreams = ReturnType<typeof createEventStreams>;
