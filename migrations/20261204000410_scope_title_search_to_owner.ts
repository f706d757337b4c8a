import type { Knex } from 'knex';

// A title search (`q`) of one user reads that user's tasks only. The trigram index covered every
// owner's titles, so a user's search rechecked everyone's matching rows: for an owner of 20 000
// tasks among 70 000, 60 054 rows, 50 000 of them another account's (issue 22). With owner_id
// as the first column (btree_gin, which the planning migration installed), the index scan
// intersects the owner's entries with the trigrams' and fetches only that owner's candidates. An
// admin's search across owners still uses it: a GIN index serves a condition on any of its columns.
//
// Built CONCURRENTLY, outside a transaction, as migrations/20261201002002_create_listing_indexes.ts
// explains; the old index goes only once the new one is there.
export const config = { transaction: false };

const NEW = 'tasks_owner_id_title_trgm_index';
const OLD = 'tasks_title_trgm_index';

/** A concurrent build that failed leaves an invalid index, which `if not exists` would keep: drop it first. */
async function createIndexConcurrently(knex: Knex, name: string, definition: string) {
  const { rows } = await knex.raw<{ rows: { indisvalid: boolean }[] }>('select indisvalid from pg_index where indexrelid = to_regclass(?)', [name]);
  if (rows[0] && !rows[0].indisvalid) await knex.raw(`drop index concurrently ${name}`);
  await knex.raw(`create index concurrently if not exists ${name} ${definition}`);
}

/** Both extensions, as the earlier migrations found them: without contrib, title search scans the owner's tasks. */
async function haveExtensions(knex: Knex): Promise<boolean> {
  const { rows } = await knex.raw<{ rows: unknown[] }>("select 1 from pg_extension where extname in ('pg_trgm', 'btree_gin')");
  return rows.length === 2;
}

export async function up(knex: Knex): Promise<void> {
  if (!(await haveExtensions(knex))) return;
  await createIndexConcurrently(knex, NEW, 'on tasks using gin (owner_id, title gin_trgm_ops)');
  await knex.raw(`drop index concurrently if exists ${OLD}`);
}

export async function down(knex: Knex): Promise<void> {
  if (!(await haveExtensions(knex))) return;
  await createIndexConcurrently(knex, OLD, 'on tasks using gin (title gin_trgm_ops)');
  await knex.raw(`drop index concurrently if exists ${NEW}`);
}
