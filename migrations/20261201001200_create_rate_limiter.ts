import type { Knex } from 'knex';

/**
 * The table of rate-limiter-flexible's PostgreSQL store (the limiter is told it exists, so it
 * never runs DDL itself), replacing the hand-written counters of rate_limits. `key` is text, not
 * the library's varchar(255): a key holds a whole email address (up to 254 characters) after its
 * prefix. `expire` is the end of the window, in milliseconds since the epoch.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limiter', (t) => {
    t.text('key').primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire').nullable().index();
  });
  await knex.schema.dropTable('rate_limits');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (t) => {
    t.text('key').primary();
    t.integer('hits').notNullable();
    t.timestamp('window_started_at', { useTz: true, precision: 3 }).notNullable().index();
  });
  await knex.schema.dropTable('rate_limiter');
}
