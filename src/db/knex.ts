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
  /** pg's protocol connection, with its record of the statements prepared on it, by name. */
  connection?: { parsedStatements?: Record<string, string> };
}
type QueryObject = { sql: string; options?: { name?: string } };

// PostgreSQL refuses to run a prepared statement whose result columns changed since it was
// prepared (a migration added a column to a table a `select *` reads) until it is prepared again.
const CACHED_PLAN_CHANGED = '0A000';

/**
 * Statements their callers name (knex's `.options({ name })`, on the hot paths) are prepared once
 * per connection: PostgreSQL then parses and plans them once, not on every request. The name gets
 * a digest of the text, so one name given to a query whose text varies (a listing's filters)
 * never meets pg's refusal of one name for two texts. Unprepared (`prepared: false`) the name is
 * dropped: through PgBouncer in transaction pooling each transaction may get another server
 * connection, which has never seen the statement.
 */
function naming(Base: typeof Knex.Client, prepared: boolean): typeof Knex.Client {
  const base = Base.prototype as unknown as { _query(c: PgConnection, o: QueryObject): Promise<QueryObject> };
  return class extends Base {
    async _query(connection: PgConnection, obj: QueryObject): Promise<QueryObject> {
      const name = obj.options?.name;
      if (name === undefined) return base._query.call(this, connection, obj);
      const { name: _, ...options } = obj.options!;
      if (!prepared) return base._query.call(this, connection, { ...obj, options });
      const named = { ...obj, options: { ...options, name: `${name}-${createHash('sha1').update(obj.sql).digest('base64url').slice(0, 12)}` } };
      try {
        return await base._query.call(this, connection, named);
      } catch (error) {
        // Once, outside a transaction (whose failed statement aborted it): drop the stale
        // statement and prepare it again. A migration under a running server costs one retry.
        if ((error as { code?: string }).code !== CACHED_PLAN_CHANGED || connection.__knexTxId !== undefined) throw error;
        await base._query.call(this, connection, { sql: `deallocate "${named.options.name}"` });
        delete connection.connection?.parsedStatements?.[named.options.name];
        return base._query.call(this, connection, named);
      }
    }
  };
}

/**
 * pg with `statement_timeout` set by `SET LOCAL` inside each transaction, never per session or as
 * a startup parameter: PgBouncer in transaction pooling refuses the parameter and hands each
 * transaction any server connection, so only a transaction's own settings are sure to apply. A
 * query outside a transaction becomes a transaction of its own (two round trips more).
 */
function pgWithStatementTimeout(ms: number): typeof Knex.Client {
  const setLocal = `set local statement_timeout = ${ms}`;
  const base = ClientPg.prototype as unknown as { _query(c: PgConnection, o: QueryObject): Promise<QueryObject> };
  return class extends ClientPg {
    async _query(connection: PgConnection, obj: QueryObject): Promise<QueryObject> {
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
  /** Prepare the statements callers name (pg only; default true); false through a transaction-pooling PgBouncer. */
  preparedStatements?: boolean;
  /**
   * PGlite only: a data directory saved by `dumpDataDir()` to open instead of an empty one, which
   * skips initdb (seconds of CPU on each in-memory start: the tests start dozens).
   */
  loadDataDir?: Blob;
}

export async function createDatabase(opts: DatabaseOptions): Promise<Knex> {
  if (opts.databaseUrl) {
    const timeout = opts.statementTimeoutMs ?? 0;
    return knex({
      client: naming(timeout > 0 ? pgWithStatementTimeout(timeout) : ClientPg, opts.preparedStatements ?? true),
      connection: { connectionString: opts.databaseUrl, types: pgTypes },
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
