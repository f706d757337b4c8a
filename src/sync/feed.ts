import type { Knex } from 'knex';
import { Task } from '../db/models/Task.js';
import type { Key, Position, Snapshot } from './position.js';

/*
 * The change feed: one owner's task changes, read page by page from a position, such that a
 * client that follows the positions misses no change, whatever order transactions commit in.
 *
 * Why a sequence or a timestamp cannot do it: both are taken before commit. Transaction A takes
 * number 7, B takes 8, B commits, a reader passes 8, then A commits: 7 is behind the reader and
 * never read. Here positions are PostgreSQL snapshots instead, which say exactly which
 * transactions had committed when they were taken.
 *
 * Stamps. A trigger sets every written task row's `change_xid` to pg_current_xact_id(), the id of
 * the (top-level) transaction writing it, and a delete leaves a tombstone stamped the same way in
 * the same transaction (migrations/20261204000200_create_task_changes.ts), whatever wrote it. So
 * the current version of a row carries the id of the transaction that committed it, and:
 *   (1) a snapshot S sees a row version if and only if S sees its stamp (pg_visible_in_snapshot:
 *       the transaction completed before S; an aborted one leaves no version to see);
 *   (2) visibility only grows: a stamp visible in a snapshot is visible in every later one.
 * Savepoints change nothing: pg_current_xact_id() gives the top-level id there too, the one that
 * snapshots list. Rows from before the feed carry 0, which every snapshot sees.
 *
 * Windows. A position `since S` means: the client has every row version visible in S (its
 * replica is the owner's tasks as S saw them). Reading "every current row whose stamp S does not
 * see", in one statement whose own snapshot is S' (pg_current_snapshot() is the statement's
 * snapshot, so the rows and S' agree), gives every change in window (S, S']: after applying it the
 * client holds every version visible in S', so the next position is `since S'`. Versions already
 * superseded in S' are not returned, only each task's latest: at most once per task, latest state.
 *
 * Pinning. A window can be bigger than a page, and it must then be finished before moving on. Page
 * 1 is read at S'; page 2 later at S''. Were page 2 "stamps not visible in S, after the last key
 * of page 1", a transaction with a smaller id that committed between S' and S'' would sort before
 * that key and be skipped for ever. So a full page ends in `window (S, S'] after key`, and later
 * pages read only stamps visible in S' and not in S, after the key. That set is fixed from S' on,
 * save that rows leave it: every transaction S' sees had committed before S' was taken, so no row
 * version written later carries such a stamp (2). A row rewritten or deleted later leaves the
 * window with a newer stamp, which a later window holds. Each remaining row keeps its key
 * (change_xid, id), so a keyset walk over a set that only loses members skips none that stays.
 * When the window is exhausted, the same statement goes on with window (S', S''], so a page is
 * full whenever more changes are known (`has_more` means "ask again at once").
 *
 * Deletions. A tombstone is stamped by the deleting transaction and read in windows like a row. It
 * is shown only while no task with its id and owner exists (SQL can recreate an id), so a task
 * appears once per page; a hidden tombstone can only reappear after another delete, which restamps
 * it into a later window. Tombstones are pruned after SYNC_RETENTION_SECONDS, and a position older
 * than that is refused (410): its reader could have missed a pruned deletion.
 *
 * Nothing here depends on a connection: every read is one statement, snapshots and ids are
 * database-wide, so the guarantee holds across processes, instances and PgBouncer's transaction
 * pooling, and on the embedded database (where transactions simply never overlap).
 *
 * "The order the server applied them": changes come by (transaction id, task id). Transaction ids
 * are handed out when a transaction first writes, not when it commits, so a later page may hold a
 * change with a smaller id than an earlier page; what matters to a client is that every page has
 * each task's state as of that page, and pages come in the order they were read, so applying the
 * pages in order leaves each task in its latest state.
 */

/** A change as the feed holds it: the task's current row, or its deletion. */
export type Change = { type: 'upsert'; task: Task } | { type: 'delete'; id: string; deleted_at: Date };

export interface FeedEntry {
  change: Change;
  /** Right after this change: a position that continues with the change after it. */
  position: Position;
}

export interface FeedPage {
  entries: FeedEntry[];
  /** Right after the page. */
  next: Position;
  /** Whether more changes were already there when the page was read. */
  hasMore: boolean;
}

// Part 1 finishes a pinned window (from, to] after a key; part 2 reads (base, now]. Each arm reads
// at most :n entries from the owner's (owner_id, change_xid, id) index, in key order. An empty
// page still yields one row, for the snapshot. :from and :base may be null: a null lower bound is
// "before everything", and then shows no deletions. Two texts, so that the common read (no window
// pinned: a poll, a stream's read) is planned without the two arms it does not need (planning the
// four took as long as running them).
const PINNED_TASKS = `
  (select 1 as part, t.change_xid, t.id, null::timestamptz as deleted_at
     from tasks t
    where t.owner_id = :owner
      and t.change_xid >= coalesce(pg_snapshot_xmin(:from::pg_snapshot), '0') and t.change_xid < pg_snapshot_xmax(:to::pg_snapshot)
      and (t.change_xid, t.id) > (:afterXid::xid8, :afterId::uuid)
      and pg_visible_in_snapshot(t.change_xid, :to::pg_snapshot)
      and (:from::pg_snapshot is null or not pg_visible_in_snapshot(t.change_xid, :from::pg_snapshot))
    order by t.change_xid, t.id limit :n)`;
const PINNED_TOMBSTONES = `
  (select 1 as part, d.change_xid, d.task_id as id, d.deleted_at
     from task_tombstones d
    where :from::pg_snapshot is not null and d.owner_id = :owner
      and d.change_xid >= pg_snapshot_xmin(:from::pg_snapshot) and d.change_xid < pg_snapshot_xmax(:to::pg_snapshot)
      and (d.change_xid, d.task_id) > (:afterXid::xid8, :afterId::uuid)
      and pg_visible_in_snapshot(d.change_xid, :to::pg_snapshot) and not pg_visible_in_snapshot(d.change_xid, :from::pg_snapshot)
      and not exists (select 1 from tasks t where t.id = d.task_id and t.owner_id = d.owner_id)
    order by d.change_xid, d.task_id limit :n)`;
const TASKS = `
  (select 2 as part, t.change_xid, t.id, null::timestamptz as deleted_at
     from tasks t
    where t.owner_id = :owner and t.change_xid >= coalesce(pg_snapshot_xmin(:base::pg_snapshot), '0')
      and (:base::pg_snapshot is null or not pg_visible_in_snapshot(t.change_xid, :base::pg_snapshot))
    order by t.change_xid, t.id limit :n)`;
const TOMBSTONES = `
  (select 2 as part, d.change_xid, d.task_id as id, d.deleted_at
     from task_tombstones d
    where :base::pg_snapshot is not null and d.owner_id = :owner
      and d.change_xid >= pg_snapshot_xmin(:base::pg_snapshot) and not pg_visible_in_snapshot(d.change_xid, :base::pg_snapshot)
      and not exists (select 1 from tasks t where t.id = d.task_id and t.owner_id = d.owner_id)
    order by d.change_xid, d.task_id limit :n)`;
const read = (arms: string[]) => `
with page as (
${arms.join('\n  union all\n')}
)
select now.feed_snapshot, now.feed_at, p.part as feed_part, p.change_xid::text as feed_xid, p.id as feed_id,
       p.deleted_at as feed_deleted_at, t.*
  from (select pg_current_snapshot()::text as feed_snapshot, (extract(epoch from now()) * 1000)::bigint as feed_at) now
  left join (page p left join tasks t on p.deleted_at is null and t.id = p.id) on true
 order by p.part, p.change_xid, p.id
 limit :n`;
const READ = read([TASKS, TOMBSTONES]);
const READ_PINNED = read([PINNED_TASKS, PINNED_TOMBSTONES, TASKS, TOMBSTONES]);

interface FeedRow {
  feed_snapshot: string;
  feed_at: number;
  feed_part: 1 | 2 | null;
  feed_xid: string | null;
  feed_id: string | null;
  feed_deleted_at: Date | null;
}

const NO_KEY: Key = { xid: '0', id: '00000000-0000-0000-0000-000000000000' };

/** Reads one page of `owner`'s changes after `position`: at most `limit` of them. */
export async function readFeed(knex: Knex, owner: string, position: Position, limit: number): Promise<FeedPage> {
  const pinned = position.kind === 'window' ? position : undefined;
  // Where part 2 starts: after the pinned window, or at the position itself.
  const base = pinned ? pinned.to : position.kind === 'since' ? position.snapshot : null;
  const { rows } = await knex.raw<{ rows: FeedRow[] }>(pinned ? READ_PINNED : READ, {
    owner,
    n: limit + 1,
    from: pinned?.from?.text ?? null,
    to: pinned?.to.text ?? null,
    afterXid: (pinned?.after ?? NO_KEY).xid,
    afterId: (pinned?.after ?? NO_KEY).id,
    base: base?.text ?? null,
  });
  const now: Snapshot = { text: rows[0]!.feed_snapshot, at: Number(rows[0]!.feed_at) };
  const found = rows.filter((row) => row.feed_part !== null);
  const hasMore = found.length > limit;
  const entries = found.slice(0, limit).map((row): FeedEntry => {
    const after = { xid: row.feed_xid!, id: row.feed_id! };
    const position: Position =
      row.feed_part === 1 ? { kind: 'window', from: pinned!.from, to: pinned!.to, after } : { kind: 'window', from: base, to: now, after };
    const change: Change =
      row.feed_deleted_at === null
        ? { type: 'upsert', task: Task.fromDatabaseJson(row as object) }
        : { type: 'delete', id: row.feed_id!, deleted_at: row.feed_deleted_at };
    return { change, position };
  });
  const next: Position = hasMore ? entries.at(-1)!.position : { kind: 'since', snapshot: now };
  // The last change of a page that empties the feed continues as the page does: a shorter token.
  if (!hasMore && entries.length > 0) entries.at(-1)!.position = next;
  return { entries, next, hasMore };
}
