import type { Knex } from 'knex';
import { migrationSource } from '../../migrations/index.js';

export async function migrateToLatest(knex: Knex): Promise<void> {
  await knex.migrate.latest({ migrationSource });
}

export async function rollbackAll(knex: Knex): Promise<void> {
  await knex.migrate.rollback({ migrationSource }, true);
}

/** Migrations this build has that the database has not run yet. */
export async function pendingMigrations(knex: Knex): Promise<string[]> {
  const [, pending] = (await knex.migrate.list({ migrationSource })) as [unknown[], { name: string }[]];
  return pending.map((m) => m.name);
}

/** Undoes the most recent migration; undefined when none has run. */
export async function rollbackOne(knex: Knex): Promise<string | undefined> {
  const [, undone] = (await knex.migrate.down({ migrationSource })) as [number, string[]];
  return undone[0];
}
