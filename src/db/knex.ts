import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import knex, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';

const INT8_OID = 20;
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
class PgliteClient extends ClientPgLite {
  processResponse(obj: { method?: string }, runner: unknown): unknown {
    const base = ClientPgLite.prototype as unknown as { processResponse(o: unknown, r: unknown): unknown };
    return base.processResponse.call(this, obj.method === 'del' ? { ...obj, method: 'delete' } : obj, runner);
  }
}

export async function createDatabase(opts: { databaseUrl?: string; dataDir?: string }): Promise<Knex> {
  if (opts.databaseUrl) {
    return knex({
      client: 'pg',
      connection: { connectionString: opts.databaseUrl, types: pgTypes },
      pool: { min: 0, max: 10 },
      acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
    });
  }
  if (!opts.dataDir) throw new Error('createDatabase needs a databaseUrl or a dataDir');

  let dataDir = opts.dataDir;
  if (dataDir !== 'memory://') {
    dataDir = path.resolve(dataDir);
    await mkdir(dataDir, { recursive: true });
  }
  const pglite = new PGlite(dataDir, { extensions: { pg_trgm }, parsers: { [INT8_OID]: parseInt8 } });
  await pglite.waitReady;
  return knex({
    client: PgliteClient,
    // knex-pglite takes a ready instance this way; its typings only know file names.
    connection: { pglite } as unknown as Knex.StaticConnectionConfig,
    acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
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
