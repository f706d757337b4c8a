import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('refresh_tokens', (t) => {
    // Equals the token's jti claim.
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('session_id').notNullable().references('id').inTable('sessions').onDelete('CASCADE').index();
    t.text('token_hash').notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    // Indexed so expired rows can be pruned without a full scan.
    t.timestamp('expires_at', { useTz: true, precision: 3 }).notNullable().index();
    t.timestamp('spent_at', { useTz: true, precision: 3 }).nullable();
    t.uuid('replaced_by').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('refresh_tokens');
}
