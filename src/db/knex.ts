import { createHash } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { btree_gin } from '@electric-sql/pglite/contrib/btree_gin';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import knex, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import ClientPg from 'knex/lib/dialects/postgres/index.js';
import { DatabaseUnreachable, isConnectionLoss } from './connection-loss.js';

const INT8_OID = 20;
// knex writes its warnings ("Acquire connection error" and its stack during an outage) with
// console.log by default; at their level through console, they become JSON lines with the rest
// in production (src/logging.ts).
const knexLog: Knex.Config['log'] = {
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
  deprecate: (message: string) => console.warn(message),
  debug: (message: string) => console.debug(message),
};
// PGlite has a single connection, so a query waiting for it should fail fast rather than hang;
// on pg the same bound turns an exhausted pool into an error instead of a minute-long stall.
const ACQUIRE_TIMEOUT_MS = 10_000;

// int8 (count(*) included) is a string on pg and a BigInt past 2^53 on PGlite; make it a number on
// both, since what we count stays far below 2^53. timestamptz is already a Date on both.
const parseInt8 = (value: string) => Number(value);

// Per connection rather than pg.types.setTypeParser, which would change every pg user in the process.
const pgTypes: Knex.PgCustomTypesConfig = {
  getTypeParser: (oid, format) =>
    oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as 'text' | 'binary'),
};

// knex-pglite names the result's command after knex's method, and knex calls a delete `del`: the
// result then misses pg's DELETE branch and resolves to the raw result instead of a row count.
// (knex's typings do not declare processResponse, hence the cast.)
// A statement's name (see `naming`) is left out: PGlite has no use for it, and its own query
// options are another thing.
class PgliteClient extends ClientPgLite {
  processResponse(obj: { method?: string }, runner: unknown): unknown {
    const base = ClientPgLite.prototype as unknown as { processResponse(o: unknown, r: unknown): unknown };
    return base.processResponse.call(this, obj.method === 'del' ? { ...obj, method: 'delete' } : obj, runner);
  }

  _query(connection: unknown, obj: { options?: { name?: string } }): Promise<unknown> {
    const base = ClientPgLite.prototype as unknown as { _query(c: unknown, o: unknown): Promise<unknown> };
    if (obj.options?.name === undefined) return base._query.call(this, connection, obj);
    const { name: _, ...options } = obj.options;
    return base._query.call(this, connection, { ...obj, options });
  }
}

/**
 * Creates `dir` (and missing parents) readable by its owner only, or narrows it to that if it
 * exists: the embedded database holds password hashes, and PGlite's files get whatever the umask
 * leaves (0666 under umask 0), so the directory is what keeps other local users out.
 */
export async function ownerOnlyDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

interface PgConnection {
  /** Set by knex while the connection belongs to a transaction. */
  __knexTxId?: string;
  /** Set by knex on pg's `error` and `end` events; its pool never lends such a connection again. */
  __knex__disposed?: unknown;
  /** pg's protocol connection, with its record of the statements prepared on it, by name. */
  connection?: { parsedStatements?: Record<string, string> };
}
type QueryObject = { sql: string; options?: { name?: string } };

type PgQuery = (this: Knex.Client, c: PgConnection, o: QueryObject) => Promise<QueryObject>;

// PostgreSQL refuses to run a prepared statement whose result columns changed since it was
// prepared (a migration added a column to a table a `select *` reads) until it is prepared again.
const CACHED_PLAN_CHANGED = '0A000';

/**
 * pg whose connection failures are marked as such (errors made while connecting carry codes of
 * every kind), whose named statements are prepared, and with a statement timeout that holds
 * through PgBouncer.
 *
 * `sessions`: each pooled connection is one PostgreSQL session (no transaction pooler between).
 * Then statements their callers name (knex's `.options({ name })`, on the hot paths) are prepared
 * once per connection, so PostgreSQL parses and plans them once, not on every request; the name
 * gets a digest of the text, so one name given to a query whose text varies (a listing's filters)
 * never meets pg's refusal of one name for two texts. And `statement_timeout` is a setting of the
 * session, given when it starts. Through PgBouncer in transaction pooling each transaction may get
 * another server connection, which has never seen the statement and refuses the startup
 * parameter: names are dropped, and the timeout is set by `SET LOCAL` inside each transaction; a
 * query outside a transaction then becomes a transaction of its own (two round trips more).
 *
 * A connection whose session ended is never handed out again. knex marks it so on pg's `error` and
 * `end` events, but a query that fails because the session ended (a FATAL error such as
 * `pg_terminate_backend`'s) returns the connection to the pool before the socket's end is read:
 * the next request would be handed it, and fail too. So it is marked at once.
 */
function pgClient(statementTimeoutMs: number, sessions: boolean): typeof Knex.Client {
  const setLocal = `set local statement_timeout = ${statementTimeoutMs}`;
  const base = ClientPg.prototype as unknown as { _query: PgQuery };
  // Each named text digested once rather than on every query; a bounded set, as values are
  // parameters: texts differ only in which filters and sort a listing has.
  const names = new Map<string, string>();
  const nameOf = (name: string, sql: string) => {
    const key = `${name} ${sql}`;
    let named = names.get(key);
    if (named === undefined) names.set(key, (named = `${name}-${createHash('sha1').update(sql).digest('base64url').slice(0, 12)}`));
    return named;
  };
  return class extends ClientPg {
    override async acquireRawConnection(): Promise<unknown> {
      try {
        return await super.acquireRawConnection();
      } catch (error) {
        throw new DatabaseUnreachable(error);
      }
    }

    async _query(connection: PgConnection, obj: QueryObject): Promise<QueryObject> {
      try {
        return await this.prepared(connection, obj);
      } catch (error) {
        if (isConnectionLoss(error)) connection.__knex__disposed ??= error;
        throw error;
      }
    }

    async prepared(connection: PgConnection, obj: QueryObject): Promise<QueryObject> {
      const name = obj.options?.name;
      if (name === undefined) return this.send(connection, obj);
      const { name: _, ...options } = obj.options!;
      if (!sessions) return this.send(connection, { ...obj, options });
      const named = { ...obj, options: { ...options, name: nameOf(name, obj.sql) } };
      try {
        return await this.send(connection, named);
      } catch (error) {
        // Once, outside a transaction (whose failed statement aborted it): drop the stale
        // statement and prepare it again. A migration under a running server costs one retry.
        if ((error as { code?: string }).code !== CACHED_PLAN_CHANGED || connection.__knexTxId !== undefined) throw error;
        await this.send(connection, { sql: `deallocate "${named.options.name}"` });
        delete connection.connection?.parsedStatements?.[named.options.name];
        return this.send(connection, named);
      }
    }

    async send(connection: PgConnection, obj: QueryObject): Promise<QueryObject> {
      if (statementTimeoutMs <= 0 || sessions) return base._query.call(this, connection, obj);
      const run = (sql: string) => base._query.call(this, connection, { sql });
      if (connection.__knexTxId !== undefined) {
        // knex opens every transaction with BEGIN (savepoints run inside one): one round trip for both.
        return base._query.call(this, connection, /^BEGIN\b/i.test(obj.sql) ? { ...obj, sql: `${obj.sql} ${setLocal};` } : obj);
      }
      await run(`begin; ${setLocal}`);
      try {
        const result = await base._query.call(this, connection, obj);
        await run('commit');
        return result;
      } catch (error) {
        await run('rollback').catch(() => undefined);
        throw error;
      }
    }
  };
}

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir?: string;
  /** Connections per process (pg only: PGlite has one). */
  poolMax?: number;
  /** 0: no limit. pg only. */
  statementTimeoutMs?: number;
  /**
   * pg only, default true: each connection is a session of its own, so named statements are prepared
   * and the statement timeout is a session setting; false through a transaction-pooling PgBouncer.
   */
  preparedStatements?: boolean;
  /**
   * PGlite only: a data directory saved by `dumpDataDir()` to open instead of an empty one, which
   * skips initdb (seconds of CPU on each in-memory start: the tests start dozens).
   */
  loadDataDir?: Blob;
}

export async function createDatabase(opts: DatabaseOptions): Promise<Knex> {
  if (opts.databaseUrl) {
    const statementTimeoutMs = opts.statementTimeoutMs ?? 0;
    const sessions = opts.preparedStatements ?? true;
    const timeout = sessions && statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {};
    return knex({
      client: pgClient(statementTimeoutMs, sessions),
      connection: { connectionString: opts.databaseUrl, types: pgTypes, ...timeout },
      pool: { min: 0, max: opts.poolMax ?? 10 },
      acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
      log: knexLog,
    });
  }
  if (!opts.dataDir) throw new Error('createDatabase needs a databaseUrl or a dataDir');

  let dataDir = opts.dataDir;
  if (dataDir !== 'memory://') {
    dataDir = path.resolve(dataDir);
    await ownerOnlyDirectory(dataDir);
  }
  const pglite = new PGlite(dataDir, { extensions: { pg_trgm, btree_gin }, parsers: { [INT8_OID]: parseInt8 }, loadDataDir: opts.loadDataDir });
  await pglite.waitReady;
  return knex({
    client: PgliteClient,
    // knex-pglite takes a ready instance this way; its typings only know file names.
    connection: { pglite } as unknown as Knex.StaticConnectionConfig,
    acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
    log: knexLog,
  });
}

/** Whether `db` is the embedded database (one in-process connection) rather than a PostgreSQL server. */
export const isEmbedded = (db: Knex) => db.client.config.client === PgliteClient;

export async function isDatabaseReady(db: Knex, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  // The timer also bounds waiting for a pooled connection, which knex's query timeout does not.
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const probe = db.raw('select 1').then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
