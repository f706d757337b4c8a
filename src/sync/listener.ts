import type { PGlite } from '@electric-sql/pglite';
import type { Knex } from 'knex';
import pg from 'pg';
import type { Logger } from 'pino';
import { isEmbedded } from '../db/knex.js';

/**
 * Tells the event streams of this process when their owner's tasks changed, whichever process or
 * instance wrote them: the tasks triggers NOTIFY `task_changes` with the owner's id at commit
 * (migrations/20261204000200_create_task_changes.ts), and one connection per process LISTENs.
 *
 * Why only owners with an open stream are notified: PostgreSQL holds a global lock on its
 * notification queue from a notifying transaction's pre-commit until its commit record is flushed,
 * so notifying commits go one at a time. Measured here (pgbench, 16 clients, one insert a
 * transaction): about 1 900 commits a second without a NOTIFY, 190 with one. Writers that nobody
 * watches pay nothing.
 *
 * A notification is a hint, never the data: a stream that is woken reads its feed from its own
 * position, so a late, doubled or folded notification costs a read and nothing more. Lost ones
 * (the connection dropped) are covered by waking every stream once the connection is back.
 *
 * The connection must be a session of its own: through PgBouncer in transaction mode, LISTEN lasts
 * only as long as a transaction, so DATABASE_LISTEN_URL names a direct connection then.
 */
export interface ChangeListener {
  /** Calls `wake` whenever `owner`'s tasks may have changed; returns what stops it. */
  watch(owner: string, wake: () => void): () => void;
  close(): Promise<void>;
}

export const CHANNEL = 'task_changes';
/** How the listening connection shows in pg_stat_activity. */
export const LISTENER_NAME = 'task-changes-listener';
// Reconnect backoff: quick after a blip, at most every 10 s while the database is away.
const FIRST_RETRY_MS = 250;
const LAST_RETRY_MS = 10_000;
// A connection that died without a word (a dropped route) is found by asking it something.
const PROBE_EVERY_MS = 30_000;
const PROBE_TIMEOUT_MS = 10_000;

export function createChangeListener(deps: { knex: Knex; listenUrl?: string; logger: Logger }): ChangeListener {
  const watchers = new Map<string, Set<() => void>>();
  const wake = (owner: string) => watchers.get(owner)?.forEach((fn) => fn());
  const wakeAll = () => watchers.forEach((fns) => fns.forEach((fn) => fn()));
  const source = isEmbedded(deps.knex) ? embeddedSource(deps.knex) : serverSource(deps.listenUrl ?? connectionStringOf(deps.knex), deps.logger);
  let started: Promise<unknown> | undefined;

  return {
    watch(owner, fn) {
      // Connected on first use: a process that never streams never holds the connection.
      started ??= source.start(wake, wakeAll);
      let fns = watchers.get(owner);
      if (!fns) watchers.set(owner, (fns = new Set()));
      fns.add(fn);
      return () => {
        fns.delete(fn);
        if (fns.size === 0 && watchers.get(owner) === fns) watchers.delete(owner);
      };
    },
    close: () => source.stop(),
  };
}

interface Source {
  /** Starts delivering notifications; `connected` is called each time listening (re)starts. */
  start(notified: (owner: string) => void, connected: () => void): Promise<void>;
  stop(): Promise<void>;
}

const connectionStringOf = (knex: Knex) => (knex.client.config.connection as { connectionString: string }).connectionString;

/** PGlite serves one process, which hears its own notifications. */
function embeddedSource(knex: Knex): Source {
  const { pglite } = knex.client.config.connection as { pglite: PGlite };
  let unlisten: (() => Promise<void>) | undefined;
  return {
    async start(notified, connected) {
      // Deferred: the callback runs while PGlite finishes a query, and a stream's read must wait its turn.
      unlisten = await pglite.listen(CHANNEL, (owner) => setImmediate(notified, owner));
      connected();
    },
    stop: async () => {
      await unlisten?.().catch(() => undefined);
    },
  };
}

function serverSource(connectionString: string, logger: Logger): Source {
  let client: pg.Client | undefined;
  let stopped = false;
  let retryMs = FIRST_RETRY_MS;
  let retry: NodeJS.Timeout | undefined;
  let probe: NodeJS.Timeout | undefined;

  async function connect(notified: (owner: string) => void, connected: () => void) {
    const next = new pg.Client({ connectionString, keepAlive: true, application_name: LISTENER_NAME });
    client = next;
    const lost = (err?: Error) => {
      if (client !== next || stopped) return;
      client = undefined;
      clearInterval(probe);
      next.end().catch(() => undefined);
      logger.warn({ err, retryMs }, 'the change listener lost its database connection; reconnecting');
      retry = setTimeout(() => void connect(notified, connected), retryMs);
      retryMs = Math.min(retryMs * 2, LAST_RETRY_MS);
    };
    next.on('error', lost);
    next.on('end', () => lost());
    next.on('notification', (message) => message.payload && notified(message.payload));
    try {
      await next.connect();
      await next.query(`listen ${CHANNEL}`);
    } catch (err) {
      return lost(err as Error);
    }
    if (client !== next) return;
    retryMs = FIRST_RETRY_MS;
    probe = setInterval(() => {
      const timer = setTimeout(() => lost(new Error('the listener connection did not answer')), PROBE_TIMEOUT_MS);
      next.query('select 1').then(() => clearTimeout(timer), (err: Error) => (clearTimeout(timer), lost(err)));
    }, PROBE_EVERY_MS).unref();
    // Whatever was notified while no one listened is lost: every stream reads again.
    connected();
  }

  return {
    start: connect,
    async stop() {
      stopped = true;
      clearTimeout(retry);
      clearInterval(probe);
      await client?.end().catch(() => undefined);
    },
  };
}
