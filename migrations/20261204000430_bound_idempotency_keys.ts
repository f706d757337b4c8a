import type { Knex } from 'knex';

// A stored response names the task it created, so that deleting the task deletes the response
// (which holds the task's content) and a retry no longer replays a deleted task; and the keys of
// a user are found oldest first, to keep at most IDEMPOTENCY_KEYS_PER_USER of them: by the order
// they were stored in, which created_at (milliseconds) cannot tell apart within one millisecond.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.uuid('task_id').references('id').inTable('tasks').onDelete('CASCADE');
    t.index(['task_id']);
    t.bigIncrements('stored', { primaryKey: false });
    t.index(['user_id', 'stored']);
  });
  // Responses kept before: every one is a 201 whose body is the task. Those of tasks deleted since
  // go; the others learn their task.
  await knex.raw(`
    delete from idempotency_keys k
    where not exists (select 1 from tasks t where t.id = (k.response_body::jsonb ->> 'id')::uuid)`);
  await knex.raw(`update idempotency_keys set task_id = (response_body::jsonb ->> 'id')::uuid`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.dropIndex(['user_id', 'stored']);
    t.dropIndex(['task_id']);
    t.dropColumns('stored', 'task_id');
  });
}
