import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tasks', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('owner_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('title').notNullable();
    t.text('description').nullable();
    t.text('status').notNullable().defaultTo('todo');
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.check('char_length(title) between 1 and 200', undefined, 'tasks_title_length');
    t.check('char_length(description) <= 10000', undefined, 'tasks_description_length');
    t.check("status in ('todo', 'in_progress', 'done')", undefined, 'tasks_status_check');
  });
  // The owner index also serves the owner's default ordering, so a page needs no sort; the
  // second one does the same for admin listings across owners.
  await knex.raw('create index tasks_owner_id_created_at_id_index on tasks (owner_id, created_at desc, id desc)');
  await knex.raw('create index tasks_created_at_id_index on tasks (created_at desc, id desc)');

  // Servers built without contrib still migrate; title search then falls back to a scan.
  const { rows } = await knex.raw("select 1 from pg_available_extensions where name = 'pg_trgm'");
  if (rows.length > 0) {
    await knex.raw('create extension if not exists pg_trgm');
    await knex.raw('create index tasks_title_trgm_index on tasks using gin (title gin_trgm_ops)');
  }
}

export async function down(knex: Knex): Promise<void> {
  // pg_trgm stays installed: it may predate this migration or serve other objects.
  await knex.schema.dropTable('tasks');
}
