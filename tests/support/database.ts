import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Knex } from 'knex';
import pg from 'pg';
import { inject, type ProvidedContext } from 'vitest';
import { withDatabase } from '../../src/db/create-database.js';
import { createDatabase, type DatabaseOptions } from '../../src/db/knex.js';
import { migrateToLatest } from '../../src/db/migrate.js';

export interface TestDatabase {
  /** The app's connection: through PgBouncer on `make test-pgbouncer`. */
  knex: Knex;
  databaseUrl?: string;
  /** The same database without PgBouncer in between: a session of its own, for LISTEN. */
  directUrl?: string;
  /** Runs the migrations, on PostgreSQL over a direct connection, as the README asks of a deployment. */
  migrate(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * What a deployment sets to reach `db`, through `url` (default: its own): DATABASE_URL, and when
 * that goes through PgBouncer, DATABASE_LISTEN_URL for the listener's session of its own, which
 * also turns prepared statements off (transaction pooling cannot keep them).
 */
export const databaseEnv = (db: TestDatabase, url = db.databaseUrl!): Record<string, string> =>
  db.databaseUrl === db.directUrl ? { DATABASE_URL: url } : { DATABASE_URL: url, DATABASE_LISTEN_URL: db.directUrl! };

// bench/floods.ts starts servers through here outside vitest, where inject throws.
const provided = <K extends keyof ProvidedContext>(key: K) => (process.env.VITEST ? inject(key) : undefined);

async function onServer(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, unmigrated database: on TEST_DATABASE_URL's server when set (reached through
 * PgBouncer when the run provides one), else in-memory PGlite. `options` as the app passes them.
 */
export async function createTestDatabase(options: Pick<DatabaseOptions, 'poolMax' | 'statementTimeoutMs' | 'preparedStatements'> = {}): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const snapshot = provided('emptyPgliteDataDir');
    const knex = await createDatabase({ dataDir: 'memory://', loadDataDir: snapshot ? new Blob([readFileSync(snapshot)]) : undefined });
    return { knex, migrate: async () => void (await migrateToLatest(knex)), destroy: () => knex.destroy() };
  }

  const name = `tm_test_${randomBytes(6).toString('hex')}`;
  const quoted = pg.escapeIdentifier(name);
  await onServer(serverUrl, `create database ${quoted}`);
  const pgbouncerUrl = provided('pgbouncerUrl');
  const databaseUrl = withDatabase(pgbouncerUrl ?? serverUrl, name);
  // PgBouncer's transaction pooling cannot keep prepared statements: the app's DATABASE_LISTEN_URL
  // turns them off there (src/config.ts), as app-server.ts sets it.
  const preparedStatements = pgbouncerUrl ? false : options.preparedStatements;
  const knex = await createDatabase({ databaseUrl, poolMax: options.poolMax, statementTimeoutMs: options.statementTimeoutMs, preparedStatements });
  return {
    knex,
    databaseUrl,
    directUrl: withDatabase(serverUrl, name),
    async migrate() {
      const direct = await createDatabase({ databaseUrl: withDatabase(serverUrl, name) });
      try {
        await migrateToLatest(direct);
      } finally {
        await direct.destroy();
      }
    },
    async destroy() {
      await knex.destroy();
      // FORCE ends connections a failed test may have left open.
      await onServer(serverUrl, `drop database if exists ${quoted} with (force)`);
    },
  };
}
