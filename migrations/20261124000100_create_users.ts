import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    // Stored lower-case so a plain unique index makes emails case-insensitively unique.
    t.text('email').notNullable().unique();
    t.text('password_hash').notNullable();
    t.text('role').notNullable().defaultTo('user');
    t.boolean('is_active').notNullable().defaultTo(true);
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.check('email = lower(email)', undefined, 'users_email_lowercase');
    t.check('char_length(email) <= 254', undefined, 'users_email_length');
    t.check("role in ('user', 'admin')", undefined, 'users_role_check');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('users');
}
