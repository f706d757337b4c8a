import type { Knex } from 'knex';

// A stored response names the task it created, so that deleting the task deletes the response
// (which holds the task's content) and a retry no longer replays a deleted task; and a user's keys
// are found newest first, to keep at most IDEMPOTENCY_KEYS_PER_USER of them: by the order they were
// stored in, which created_at (milliseconds) cannot tell apart within one millisecond.
//
// A deploy runs this while the previous release serves, so nothing rewrites the table or holds
// its writes for longer than a catalog change (as in 20261204000100_add_task_planning): `stored`
// takes its sequence as a default for new rows only (older rows stay null, which sorts as oldest,
// and expire within IDEMPOTENCY_KEY_TTL_SECONDS), the foreign key is added NOT VALID and validated
// after the backfill, and the indexes are built CONCURRENTLY, outside a transaction.
export const config = { transaction: false };

const FOREIGN_KEY = 'idempotency_keys_task_id_foreign';
const INDEXES: Record<string, string> = {
  idempotency_keys_task_id_index: 'on idempotency_keys (task_id)',
  idempotency_keys_user_id_stored_index: 'on idempotency_keys (user_id, stored desc nulls last)',
};
const BACKFILL_BATCH = 10_000;

/** A concurrent build that failed leaves an invalid index, which `if not exists` would keep: drop it first. */
async function createIndexConcurrently(knex: Knex, name: string, definition: string) {
  const { rows } = await knex.raw<{ rows: { indisvalid: boolean }[] }>('select indisvalid from pg_index where indexrelid = to_regclass(?)', [name]);
  if (rows[0] && !rows[0].indisvalid) await knex.raw(`drop index concurrently ${name}`);
  await knex.raw(`create index concurrently if not exists ${name} ${definition}`);
}

/**
 * Responses stored before: each is a 201 whose body is the task. Those of tasks deleted since go;
 * the others learn their task. In batches of short transactions, until none is left (the previous
 * release keeps storing some while this runs).
 */
async function backfillTaskIds(knex: Knex) {
  for (;;) {
    const { rows } = await knex.raw<{ rows: { n: number }[] }>(
      `with batch as (
         select user_id, key, (response_body::jsonb ->> 'id')::uuid as task_id from idempotency_keys
         where task_id is null limit ${BACKFILL_BATCH} for update skip locked),
       gone as (
         delete from idempotency_keys k using batch b
         where k.user_id = b.user_id and k.key = b.key and not exists (select 1 from tasks t where t.id = b.task_id)),
       linked as (
         update idempotency_keys k set task_id = b.task_id from batch b
         where k.user_id = b.user_id and k.key = b.key and exists (select 1 from tasks t where t.id = b.task_id))
       select count(*)::int as n from batch`,
    );
    if (!rows[0] || Number(rows[0].n) === 0) return;
  }
}

export async function up(knex: Knex): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx.raw("set local lock_timeout = '10s'");
    await trx.raw('create sequence if not exists idempotency_keys_stored_seq');
    await trx.raw(`alter table idempotency_keys
      add column if not exists task_id uuid,
      add column if not exists stored bigint`);
    await trx.raw("alter table idempotency_keys alter column stored set default nextval('idempotency_keys_stored_seq')");
    await trx.raw('alter sequence idempotency_keys_stored_seq owned by idempotency_keys.stored');
    await trx.raw(`alter table idempotency_keys drop constraint if exists ${FOREIGN_KEY},
      add constraint ${FOREIGN_KEY} foreign key (task_id) references tasks (id) on delete cascade not valid`);
  });
  await backfillTaskIds(knex);
  await knex.raw(`alter table idempotency_keys validate constraint ${FOREIGN_KEY}`);
  for (const [name, definition] of Object.entries(INDEXES)) await createIndexConcurrently(knex, name, definition);
}

export async function down(knex: Knex): Promise<void> {
  for (const name of Object.keys(INDEXES)) await knex.raw(`drop index concurrently if exists ${name}`);
  await knex.transaction(async (trx) => {
    await trx.raw("set local lock_timeout = '10s'");
    // The sequence goes with the column that owns it.
    await trx.raw(`alter table idempotency_keys drop constraint if exists ${FOREIGN_KEY},
      drop column if exists stored, drop column if exists task_id`);
  });
}
