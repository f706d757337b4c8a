import type { Knex } from 'knex';
import { migrationSource } from '../../migrations/index.js';

// Most starts have nothing to apply. Two plain queries tell; knex's own check (information_schema
// look-ups, taking and freeing its lock) took 0.4-1.8 s of every start on the embedded database.
async function upToDate(knex: Knex): Promise<boolean> {
  const { rows } = await knex.raw<{ rows: { exists: boolean }[] }>("select to_regclass('knex_migrations') is not null as exists");
  if (!rows[0]?.exists) return false;
  const applied = new Set((await knex('knex_migrations').select<{ name: string }[]>('name')).map((row) => row.name));
  const known = (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m));
  return applied.size === known.length && known.every((name) => applied.has(name));
}

/** Applies every migration not applied yet; returns their names in order (none when up to date). */
export async function migrateToLatest(knex: Knex): Promise<string[]> {
  if (await upToDate(knex)) return [];
  const [, applied] = (await knex.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
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
