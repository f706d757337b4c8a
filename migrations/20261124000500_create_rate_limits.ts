import type { Knex } from 'knex';

// Fixed-window counters (failed logins per email, /auth requests per address), kept in the
// database so that every worker and every machine shares them.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (t) => {
    t.text('key').primary();
    t.integer('hits').notNullable();
    t.timestamp('window_started_at', { useTz: true, precision: 3 }).notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('rate_limits');
}
