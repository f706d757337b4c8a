import type { Knex } from 'knex';

// The first response to a create sent with an Idempotency-Key, kept so that retries with the
// same key get it again instead of creating a second task. Written in the same transaction as
// the task, so a key is never kept without its task (or the other way round).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (t) => {
    // Keys belong to the caller: two users may pick the same one.
    t.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('key').notNullable();
    // SHA-256 of the request body in canonical JSON (RFC 8785), as the client sent it.
    t.text('request_hash').notNullable();
    t.integer('response_status').notNullable();
    t.jsonb('response_headers').notNullable();
    // Text, not jsonb: a replay is byte for byte what the first request got.
    t.text('response_body').notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    // Indexed so expired keys can be pruned without a full scan.
    t.timestamp('expires_at', { useTz: true, precision: 3 }).notNullable().index();
    t.primary(['user_id', 'key']);
    t.check('char_length(key) between 1 and 255', undefined, 'idempotency_keys_key_length');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('idempotency_keys');
}
