import type { Knex } from 'knex';

// Failed logins per account, and per account and client address (src/auth/login-failures.ts):
// `failures` are wrong passwords in the window that started at `window_started_at`, `pending` the
// attempts whose password is being checked right now. And a user's sessions are listed newest
// first, one page at a time, by a keyset on (created_at, id): the index that serves it also serves
// the foreign key that the user_id index served.
//
// The index is built CONCURRENTLY, outside a transaction (which CONCURRENTLY needs): a deploy
// migrates while the old release serves, and every login writes to sessions. `if not exists`:
// without a transaction, a migration that failed half-way is run again from the start.
export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table if not exists login_failures (
      key text primary key,
      failures integer not null default 0,
      pending integer not null default 0,
      window_started_at timestamptz(3) not null)`);
  await knex.raw('create index if not exists login_failures_window_started_at_index on login_failures (window_started_at)');
  await knex.raw('create index concurrently if not exists sessions_user_id_created_at_id_index on sessions (user_id, created_at, id)');
  await knex.raw('drop index concurrently if exists sessions_user_id_index');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('create index concurrently if not exists sessions_user_id_index on sessions (user_id)');
  await knex.raw('drop index concurrently if exists sessions_user_id_created_at_id_index');
  await knex.raw('drop table if exists login_failures');
}
