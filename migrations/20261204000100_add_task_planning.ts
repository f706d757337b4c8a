import type { Knex } from 'knex';

// Due dates, priority, labels and completion time (contract 1.2). A deploy runs this while the
// previous release still serves, so nothing here rewrites the table or blocks its reads and writes
// for longer than a catalog change: the columns have constant defaults (no rewrite), the checks are
// added NOT VALID and validated without blocking writes, the indexes are built CONCURRENTLY (which
// cannot run in a transaction, hence `transaction: false`) and old rows are backfilled in batches.
// Every step can run again, so a migration stopped half-way finishes when it is run again.
export const config = { transaction: false };

// priority: a rank, 0 (none) to 4 (urgent), so that it sorts and indexes in the contract's order;
// the API names it (src/tasks/priority.ts). labels: as sent. label_keys: each label folded for
// comparison ignoring case by the application (src/tasks/labels.ts), so that both databases
// compare alike (PostgreSQL's lower() and upper() differ by collation and version).
const COLUMNS = `
  add column if not exists due_at timestamptz(3),
  add column if not exists priority smallint not null default 0,
  add column if not exists labels text[] not null default '{}',
  add column if not exists label_keys text[] not null default '{}',
  add column if not exists completed_at timestamptz(3)`;

const CHECKS: Record<string, string> = {
  tasks_priority_range: 'priority between 0 and 4',
  tasks_labels_count: 'cardinality(labels) <= 20 and cardinality(label_keys) = cardinality(labels)',
};

// completed_at follows status in the statement that changes status, for every writer: this
// release, the previous one still serving while this runs, and psql. A row trigger runs on the
// row version the UPDATE actually changes (after waiting for a concurrent update to commit,
// PostgreSQL re-evaluates the UPDATE against the newest version), so racing status changes leave
// completed_at consistent with the status that won. A task that stays done keeps its time; one
// done before this migration (and not backfilled yet) gets the time of its last change before it.
const TRIGGER_FUNCTION = `
  create or replace function tasks_set_completed_at() returns trigger language plpgsql as $$
  begin
    if new.status <> 'done' then
      new.completed_at := null;
    elsif tg_op = 'INSERT' or old.status <> 'done' then
      new.completed_at := new.updated_at;
    else
      new.completed_at := coalesce(old.completed_at, old.updated_at);
    end if;
    return new;
  end $$`;

// One owner's page in each new sort, by keyset, without sorting (src/paging/page.ts). Tasks
// without due_at come last in both directions: each direction sorts on an expression that is never
// null and puts them at its far end. The label index needs btree_gin for owner_id; it leaves out
// tasks without labels (most of them), which then cost it nothing to write.
const INDEXES: Record<string, string> = {
  tasks_owner_id_due_at_id_index: `on tasks (owner_id, coalesce(due_at, 'infinity'::timestamptz), id)`,
  tasks_owner_id_due_at_desc_id_index: `on tasks (owner_id, coalesce(due_at, '-infinity'::timestamptz) desc, id desc)`,
  tasks_owner_id_priority_id_index: 'on tasks (owner_id, priority, id)',
};
const LABEL_INDEX = 'tasks_owner_id_label_keys_index';
const LABEL_INDEX_DEFINITION = `on tasks using gin (owner_id, label_keys) where label_keys <> '{}'`;

const BACKFILL_BATCH = 10_000;

/** A concurrent build that failed leaves an invalid index, which `if not exists` would keep: drop it first. */
async function createIndexConcurrently(knex: Knex, name: string, definition: string) {
  const { rows } = await knex.raw<{ rows: { indisvalid: boolean }[] }>('select indisvalid from pg_index where indexrelid = to_regclass(?)', [name]);
  if (rows[0] && !rows[0].indisvalid) await knex.raw(`drop index concurrently ${name}`);
  await knex.raw(`create index concurrently if not exists ${name} ${definition}`);
}

/** Done tasks from before completed_at existed: completed at their last change, in batches of short transactions. */
async function backfillCompletedAt(knex: Knex) {
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = await knex.raw<{ rows: { id: string }[] }>(
      `with batch as (select id from tasks where id > ? order by id limit ${BACKFILL_BATCH}),
       filled as (
         update tasks set completed_at = tasks.updated_at from batch
         where tasks.id = batch.id and tasks.status = 'done' and tasks.completed_at is null)
       select id from batch order by id desc limit 1`,
      [after],
    );
    if (!rows[0]) return;
    after = rows[0].id;
  }
}

export async function up(knex: Knex): Promise<void> {
  await knex.transaction(async (trx) => {
    // Waits this long at most for the table's lock rather than queueing every request behind a
    // long transaction; when it gives up, nothing has changed and the migration can run again.
    await trx.raw("set local lock_timeout = '10s'");
    await trx.raw(`alter table tasks ${COLUMNS}`);
    for (const [name, check] of Object.entries(CHECKS)) {
      await trx.raw(`alter table tasks drop constraint if exists ${name}, add constraint ${name} check (${check}) not valid`);
    }
    await trx.raw(TRIGGER_FUNCTION);
    await trx.raw('drop trigger if exists tasks_set_completed_at on tasks');
    await trx.raw('create trigger tasks_set_completed_at before insert or update of status on tasks for each row execute function tasks_set_completed_at()');
  });
  await backfillCompletedAt(knex);
  for (const name of Object.keys(CHECKS)) await knex.raw(`alter table tasks validate constraint ${name}`);
  for (const [name, definition] of Object.entries(INDEXES)) await createIndexConcurrently(knex, name, definition);
  // Servers built without contrib still migrate; a label filter then reads the owner's tasks.
  const { rows } = await knex.raw("select 1 from pg_available_extensions where name = 'btree_gin'");
  if (rows.length > 0) {
    await knex.raw('create extension if not exists btree_gin');
    await createIndexConcurrently(knex, LABEL_INDEX, LABEL_INDEX_DEFINITION);
  }
}

export async function down(knex: Knex): Promise<void> {
  // btree_gin stays installed: it may predate this migration or serve other objects.
  for (const name of [LABEL_INDEX, ...Object.keys(INDEXES)]) await knex.raw(`drop index concurrently if exists ${name}`);
  await knex.transaction(async (trx) => {
    await trx.raw("set local lock_timeout = '10s'");
    await trx.raw('drop trigger if exists tasks_set_completed_at on tasks');
    await trx.raw('drop function if exists tasks_set_completed_at()');
    await trx.raw(`alter table tasks ${Object.keys(CHECKS).map((name) => `drop constraint if exists ${name}`).join(', ')},
      drop column if exists due_at, drop column if exists priority, drop column if exists labels,
      drop column if exists label_keys, drop column if exists completed_at`);
  });
}
