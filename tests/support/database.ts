import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import { withDatabase } from '../../src/db/create-database.js';
import { createDatabase } from '../../src/db/knex.js';

export interface TestDatabase {
  knex: Knex;
  databaseUrl?: string;
  destroy(): Promise<void>;
}

async function onServer(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh, unmigrated database: on TEST_DATABASE_URL's server when set, else in-memory PGlite. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const knex = await createDatabase({ dataDir: 'memory://' });
    return { knex, destroy: () => knex.destroy() };
  }

  const name = `tm_test_${randomBytes(6).toString('hex')}`;
  const quoted = pg.escapeIdentifier(name);
  await onServer(serverUrl, `create database ${quoted}`);
  const databaseUrl = withDatabase(serverUrl, name);
  const knex = await createDatabase({ databaseUrl });
  return {
    knex,
    databaseUrl,
    async destroy() {
      await knex.destroy();
      // FORCE ends connections a failed test may have left open.
      await onServer(serverUrl, `drop database if exists ${quoted} with (force)`);
    },
  };
}
