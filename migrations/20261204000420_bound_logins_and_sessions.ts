import type { Knex } from 'knex';

// Failed logins per account, and per account and client address (src/auth/login-failures.ts):
// `failures` are wrong passwords in the window that started at `window_started_at`, `pending` the
// attempts whose password is being checked right now. And a user's sessions are listed newest first, one
// page at a time, by a keyset on (created_at, id): the index that serves it also serves the
// foreign key that the user_id index served.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('login_failures', (t) => {
    t.text('key').primary();
    t.integer('failures').notNullable().defaultTo(0);
    t.integer('pending').notNullable().defaultTo(0);
    t.timestamp('window_started_at', { useTz: true, precision: 3 }).notNullable().index();
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.index(['user_id', 'created_at', 'id'], 'sessions_user_id_created_at_id_index');
    t.dropIndex(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.index(['user_id']);
    t.dropIndex([], 'sessions_user_id_created_at_id_index');
  });
  await knex.schema.dropTable('login_failures');
}
