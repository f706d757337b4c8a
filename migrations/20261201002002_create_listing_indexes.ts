import type { Knex } from 'knex';

// Cursor pages are keyset queries, `(column, id) < (value, id)` in the listing's order. One
// owner's tasks by created_at already had their index; these give the other sorts of one owner's
// tasks (and an admin's owner_id filter) theirs, so a page reads `limit` index entries instead of
// fetching and sorting every task of the owner: measured on PostgreSQL 15 with an owner of 20,000
// tasks, 3-5 ms became 0.03 ms a page. The updated_at index costs heap-only updates (every update
// moves updated_at); the title one only inserts and title changes, which the trigram index already
// makes non-HOT. Listings across every owner by updated_at or title (admins only, rare) keep
// scanning: their count(*) scans the table anyway.
// Users are listed oldest first; created_at never changes, so that index costs writes nothing.
//
// Built CONCURRENTLY, outside a transaction (which CONCURRENTLY needs): a deploy migrates while the
// old release serves, and a plain CREATE INDEX would hold off every write to tasks and users for
// as long as it reads the table. `if not exists`: without a transaction, a migration that failed
// half-way is run again from the start.
export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  await knex.raw('create index concurrently if not exists tasks_owner_id_updated_at_id_index on tasks (owner_id, updated_at desc, id desc)');
  await knex.raw('create index concurrently if not exists tasks_owner_id_title_id_index on tasks (owner_id, title, id)');
  await knex.raw('create index concurrently if not exists users_created_at_id_index on users (created_at, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index concurrently if exists users_created_at_id_index');
  await knex.raw('drop index concurrently if exists tasks_owner_id_title_id_index');
  await knex.raw('drop index concurrently if exists tasks_owner_id_updated_at_id_index');
}
