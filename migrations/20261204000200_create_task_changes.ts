import type { Knex } from 'knex';

// The change feed (GET /tasks/changes, GET /tasks/events; src/sync/feed.ts says why it misses
// nothing). Every write to tasks is stamped by triggers, so that no write path can forget it: the
// API, an admin's SQL, a future feature, a cascade from a deleted user.
//
// - tasks.change_xid: the id of the transaction that wrote the row's current version
//   (pg_current_xact_id(): 64 bits, so it never wraps; the top-level id even inside a savepoint,
//   which is the id snapshots list). A constant default adds the column without rewriting the
//   table: rows written before the feed read 0, which every snapshot sees as long committed.
// - task_tombstones: one row per deleted task and owner, written by the delete's own transaction
//   and stamped the same way; a task moved to another owner leaves one for the owner it left.
// - task_streams: the open event streams of every process, with a lease their process renews;
//   they bound the streams per user across processes, and a write notifies only owners with one
//   (a NOTIFY serialises commits on a global lock: src/sync/listener.ts).
//
// Not in a transaction: the tasks index is built concurrently, so that a deploy migrating while
// the old release serves never blocks task writes for the length of an index build. Each step
// is written to be run again after a failure part-way.
export const config = { transaction: false };

const STAMP = `
create or replace function task_changes_stamp() returns trigger language plpgsql as $$
begin
  new.change_xid := pg_current_xact_id();
  perform task_changes_notify(new.owner_id);
  if tg_op = 'UPDATE' and new.owner_id is distinct from old.owner_id then
    perform task_changes_bury(old.id, old.owner_id);
  end if;
  return new;
end $$`;

const DELETED = `
create or replace function task_changes_deleted() returns trigger language plpgsql as $$
begin
  perform task_changes_bury(old.id, old.owner_id);
  return null;
end $$`;

// deleted_at is the transaction's time, like updated_at; a later delete of a task recreated with
// the same id (only SQL can do that) restamps the one tombstone.
const BURY = `
create or replace function task_changes_bury(task uuid, owner uuid) returns void language plpgsql as $$
begin
  insert into task_tombstones (owner_id, task_id, deleted_at, change_xid)
  values (owner, task, now(), pg_current_xact_id())
  on conflict (owner_id, task_id) do update set deleted_at = excluded.deleted_at, change_xid = excluded.change_xid;
  perform task_changes_notify(owner);
end $$`;

// One notification per owner and transaction (PostgreSQL folds identical ones), sent at commit,
// and only for an owner with a stream whose process is alive (its lease renewed). The shared lock,
// held to the end of the transaction, closes the race with a stream registering meanwhile
// (src/sync/streams.ts, open()): a registration takes it exclusively, so it waits for the writes
// that looked for streams before it, and writes that look after it wait for it to commit.
const NOTIFY = `
create or replace function task_changes_notify(owner uuid) returns void language plpgsql as $$
begin
  perform pg_advisory_xact_lock_shared(hashtextextended('task_changes ' || owner::text, 0));
  if exists (select 1 from task_streams where user_id = owner and lease_until > now()) then
    perform pg_notify('task_changes', owner::text);
  end if;
end $$`;

const INDEX = 'tasks_owner_id_change_xid_id_index';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table if not exists task_tombstones (
      owner_id uuid not null,
      task_id uuid not null,
      deleted_at timestamptz(3) not null,
      change_xid xid8 not null,
      primary key (owner_id, task_id)
    )`);
  await knex.raw('create index if not exists task_tombstones_owner_id_change_xid_task_id_index on task_tombstones (owner_id, change_xid, task_id)');
  // Pruned by SYNC_RETENTION_SECONDS.
  await knex.raw('create index if not exists task_tombstones_deleted_at_index on task_tombstones (deleted_at)');
  await knex.raw(`
    create table if not exists task_streams (
      id uuid primary key,
      user_id uuid not null references users (id) on delete cascade,
      session_id uuid not null,
      lease_until timestamptz(3) not null
    )`);
  await knex.raw('create index if not exists task_streams_user_id_index on task_streams (user_id)');
  await knex.raw("alter table tasks add column if not exists change_xid xid8 not null default '0'");
  for (const fn of [NOTIFY, BURY, STAMP, DELETED]) await knex.raw(fn);
  await knex.raw('drop trigger if exists tasks_change_stamp on tasks');
  await knex.raw('create trigger tasks_change_stamp before insert or update on tasks for each row execute function task_changes_stamp()');
  await knex.raw('drop trigger if exists tasks_change_deleted on tasks');
  await knex.raw('create trigger tasks_change_deleted after delete on tasks for each row execute function task_changes_deleted()');
  // A build that failed part-way leaves an invalid index that `if not exists` would keep.
  const { rows } = await knex.raw<{ rows: unknown[] }>(
    'select 1 from pg_index where indexrelid = to_regclass(?) and not indisvalid',
    [INDEX],
  );
  if (rows.length > 0) await knex.raw(`drop index concurrently ${INDEX}`);
  await knex.raw(`create index concurrently if not exists ${INDEX} on tasks (owner_id, change_xid, id)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index concurrently if exists ${INDEX}`);
  await knex.raw('drop trigger if exists tasks_change_deleted on tasks');
  await knex.raw('drop trigger if exists tasks_change_stamp on tasks');
  await knex.raw('drop function if exists task_changes_deleted()');
  await knex.raw('drop function if exists task_changes_stamp()');
  await knex.raw('drop function if exists task_changes_bury(uuid, uuid)');
  await knex.raw('drop function if exists task_changes_notify(uuid)');
  await knex.raw('alter table tasks drop column if exists change_xid');
  await knex.raw('drop table if exists task_streams');
  await knex.raw('drop table if exists task_tombstones');
}
