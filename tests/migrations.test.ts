import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as planningMigration from '../migrations/20261204000100_add_task_planning.js';
import { migrationSource } from '../migrations/index.js';
import { migrateToLatest, rollbackAll } from '../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const APP_TABLES = ['idempotency_keys', 'login_failures', 'refresh_tokens', 'sessions', 'tasks', 'users'];
const OWNER_LISTING = 'select * from tasks where owner_id = ? order by created_at desc, id desc limit 20';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.destroy();
});

async function tables(): Promise<string[]> {
  const rows: { table_name: string }[] = await db
    .knex('information_schema.tables')
    .select('table_name')
    .whereRaw('table_schema = current_schema()')
    .orderBy('table_name');
  return rows.map((r) => r.table_name);
}

async function indexes(table: string): Promise<string[]> {
  const rows: { indexname: string }[] = await db
    .knex('pg_indexes')
    .select('indexname')
    .whereRaw('schemaname = current_schema()')
    .andWhere('tablename', table);
  return rows.map((r) => r.indexname);
}

/** The plan PostgreSQL picks when it may not scan the whole table (the tables here are too small to need indexes). */
const planOf = (sql: string, bindings: unknown[]) =>
  db.knex.transaction(async (trx) => {
    // Local to the transaction, so it never leaks to another pooled connection.
    await trx.raw('set local enable_seqscan = off');
    const { rows } = await trx.raw(`explain ${sql}`, bindings as never[]);
    return rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
  });

async function insertUser(email: string): Promise<string> {
  const [user] = await db.knex('users').insert({ email, password_hash: 'x' }).returning('id');
  return user.id;
}

describe('migrations', () => {
  it('create every table on the way up', async () => {
    await migrateToLatest(db.knex);
    expect(await tables()).toEqual(expect.arrayContaining(APP_TABLES));
    expect(await indexes('tasks')).toEqual(
      expect.arrayContaining(['tasks_owner_id_created_at_id_index', 'tasks_created_at_id_index']),
    );
    expect(await indexes('sessions')).toContain('sessions_user_id_created_at_id_index');
  });

  it("create the trigram index on each owner's task titles, in place of the one over every owner's, when pg_trgm and btree_gin are available", async () => {
    const { rows } = await db.knex.raw("select 1 from pg_available_extensions where name in ('pg_trgm', 'btree_gin')");
    if (rows.length === 2) {
      expect(await indexes('tasks')).toContain('tasks_owner_id_title_trgm_index');
      expect(await indexes('tasks')).not.toContain('tasks_title_trgm_index');
    }
  });

  it('leave only knex bookkeeping after rolling everything back', async () => {
    await rollbackAll(db.knex);
    expect(await tables()).toEqual(['knex_migrations', 'knex_migrations_lock']);
  });

  it('go up again after a full rollback', async () => {
    await migrateToLatest(db.knex);
    expect(await tables()).toEqual(expect.arrayContaining(APP_TABLES));
  });
});

describe('tasks schema', () => {
  it('serves one owner newest-first page from the owner index without sorting', async () => {
    // Realistic spread: each owner's rows are too sparse to find via the created_at index and too
    // many to fetch and sort, so only the owner index fits.
    await db.knex.raw(
      `insert into users (email, password_hash) select 'owner' || i || '@example.com', 'x' from generate_series(1, 20) as i`,
    );
    await db.knex.raw(
      `insert into tasks (owner_id, title, created_at)
       select u.id, 'task ' || i, now() - i * interval '1 second'
       from users u cross join generate_series(1, 300) as i`,
    );
    const { id: owner } = await db.knex('users').first('id');
    await db.knex.raw('analyze tasks');

    const plan = await planOf(OWNER_LISTING, [owner]);
    expect(plan).toContain('tasks_owner_id_created_at_id_index');
    expect(plan).not.toMatch(/\bSort\b/);
  });

  it.each(['created_at', 'updated_at', 'title'])("serves a cursor page of one owner's tasks by %s, either direction, from an index without sorting", async (column) => {
    const { id: owner } = await db.knex('users').first('id');
    const middle = await db.knex('tasks').where('owner_id', owner).orderBy([column, 'id']).offset(150).first(column, 'id');
    for (const [direction, op] of [['asc', '>'], ['desc', '<']]) {
      const keyset = `select * from tasks where owner_id = ? and (${column}, id) ${op} (?, ?) order by ${column} ${direction}, id ${direction} limit 21`;
      const plan = await planOf(keyset, [owner, middle[column], middle.id]);
      // For created_at the planner may as well walk the index across owners and filter.
      expect(plan).toMatch(new RegExp(`Index Scan (Backward )?using tasks_(owner_id_)?${column}_id_index`));
      expect(plan).not.toMatch(/\bSort\b/);
    }
  });

  it('serves a cursor page of users, oldest first, from an index without sorting', async () => {
    const middle = await db.knex('users').orderBy(['created_at', 'id']).offset(10).first('created_at', 'id');
    const plan = await planOf('select * from users where (created_at, id) > (?, ?) order by created_at, id limit 21', [middle.created_at, middle.id]);
    expect(plan).toContain('users_created_at_id_index');
    expect(plan).not.toMatch(/\bSort\b/);
  });

  it('rejects a status outside todo, in_progress and done', async () => {
    const owner = await insertUser('status@example.com');
    await expect(db.knex('tasks').insert({ owner_id: owner, title: 't', status: 'blocked' })).rejects.toMatchObject({
      code: '23514',
      constraint: 'tasks_status_check',
    });
  });

  it('rejects an email that is not lower-case', async () => {
    await expect(insertUser('Mixed@Example.com')).rejects.toMatchObject({
      code: '23514',
      constraint: 'users_email_lowercase',
    });
  });

  it('returns counts as numbers and timestamps as dates with millisecond precision', async () => {
    const [row] = await db.knex('tasks').select(db.knex.raw('count(*) as n, max(created_at) as latest'));
    expect(typeof row.n).toBe('number');
    expect(row.latest).toBeInstanceOf(Date);
    const { rows } = await db.knex.raw("select '2026-11-24T10:00:00.123456Z'::timestamptz(3) as t");
    expect(rows[0].t.toISOString()).toBe('2026-11-24T10:00:00.123Z');
  });
});

describe('the session activity migration', () => {
  it('fills last_used_at of existing sessions from their newest refresh token, or their creation', async () => {
    await migrateToLatest(db.knex);
    await db.knex.migrate.down({ migrationSource, name: '20261201001100_add_session_activity' });
    const owner = await insertUser('sessions@example.com');
    const created = new Date('2026-11-20T08:00:00.000Z');
    const [used, unused] = await db.knex('sessions').insert([{ user_id: owner, created_at: created }, { user_id: owner, created_at: created }]).returning('id');
    const expires_at = new Date('2026-12-30T00:00:00.000Z');
    await db.knex('refresh_tokens').insert(
      ['2026-11-21T09:00:00.000Z', '2026-11-23T18:12:00.000Z'].map((at) => ({ session_id: used.id, token_hash: at, created_at: new Date(at), expires_at })),
    );
    await migrateToLatest(db.knex);
    const rows = await db.knex('sessions').whereIn('id', [used.id, unused.id]).select('id', 'last_used_at', 'user_agent');
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(byId[used.id]).toMatchObject({ last_used_at: new Date('2026-11-23T18:12:00.000Z'), user_agent: null });
    expect(byId[unused.id]).toMatchObject({ last_used_at: created });
  });
});

describe('the account mail migration', () => {
  const relfilenode = async () => (await db.knex.raw("select relfilenode from pg_class where relname = 'users'")).rows[0].relfilenode;

  it('counts accounts made before it as verified and starts new ones unverified, without rewriting users', async () => {
    await migrateToLatest(db.knex);
    await db.knex.migrate.down({ migrationSource, name: '20261204000300_add_account_mail' });
    const before = await insertUser('made-before-1.2@example.com');
    const file = await relfilenode();
    await migrateToLatest(db.knex);
    expect(await relfilenode(), 'the users table was not rewritten').toBe(file);
    const after = await insertUser('made-after-1.2@example.com');
    const verified = Object.fromEntries((await db.knex('users').whereIn('id', [before, after]).select('id', 'email_verified')).map((r) => [r.id, r.email_verified]));
    expect(verified).toEqual({ [before]: true, [after]: false });
  });
});

describe('the task planning migration', () => {
  const PLANNING = '20261204000100_add_task_planning';

  // Two batches (of 10,000): 12,000 rows stay quick on PGlite even on a busy machine.
  it('fills completed_at of tasks done before it with their last change, in batches over the whole table, and only theirs', { timeout: 60_000 }, async () => {
    await migrateToLatest(db.knex);
    await db.knex.migrate.down({ migrationSource, name: PLANNING });
    const owner = await insertUser('planning@example.com');
    // More than one batch of tasks, each with a distinct last change.
    await db.knex.raw(
      `insert into tasks (owner_id, title, status, updated_at)
       select ?, 'old ' || i, (array['todo', 'in_progress', 'done'])[1 + i % 3], timestamptz '2026-11-01T00:00:00Z' + i * interval '1 second'
       from generate_series(1, 12000) as i`,
      [owner],
    );
    await migrateToLatest(db.knex);
    const { rows } = await db.knex.raw(
      `select status, count(*)::int as n, count(*) filter (where completed_at is distinct from (case when status = 'done' then updated_at end))::int as wrong
       from tasks where owner_id = ? group by status order by status`,
      [owner],
    );
    expect(rows).toEqual([
      { status: 'done', n: 4000, wrong: 0 },
      { status: 'in_progress', n: 4000, wrong: 0 },
      { status: 'todo', n: 4000, wrong: 0 },
    ]);
    // Out of the way of the plans below, whose estimates they would skew.
    await db.knex('tasks').where('owner_id', owner).delete();
  });

  it('can run again after it has run, as when a deploy stopped it half-way and runs it again', async () => {
    await migrateToLatest(db.knex);
    await planningMigration.up(db.knex);
    expect(await indexes('tasks')).toEqual(expect.arrayContaining(['tasks_owner_id_due_at_id_index', 'tasks_owner_id_due_at_desc_id_index', 'tasks_owner_id_priority_id_index']));
  });

  it('builds the label index when btree_gin is available', async () => {
    const { rows } = await db.knex.raw("select 1 from pg_available_extensions where name = 'btree_gin'");
    if (rows.length > 0) expect(await indexes('tasks')).toContain('tasks_owner_id_label_keys_index');
  });

  it('keeps completed_at consistent with status for every writer, also one that never names the column', async () => {
    const owner = await insertUser('writer@example.com');
    const [task] = await db.knex('tasks').insert({ owner_id: owner, title: 'by hand', status: 'done' }).returning('*');
    expect(task.completed_at).toEqual(task.updated_at);
    const [reopened] = await db.knex('tasks').where('id', task.id).update({ status: 'todo' }).returning('*');
    expect(reopened.completed_at).toBeNull();
    const [done] = await db.knex('tasks').where('id', task.id).update({ status: 'done', updated_at: new Date('2026-12-01T10:00:00.000Z') }).returning('*');
    expect(done.completed_at).toEqual(new Date('2026-12-01T10:00:00.000Z'));
    const [still] = await db.knex('tasks').where('id', task.id).update({ status: 'done', updated_at: new Date('2026-12-02T10:00:00.000Z') }).returning('*');
    expect(still.completed_at).toEqual(new Date('2026-12-01T10:00:00.000Z'));
  });

  it('refuses a priority outside 0 to 4, more than 20 labels, and label keys that do not match the labels', async () => {
    const owner = await insertUser('checks@example.com');
    const insert = (row: object) => db.knex('tasks').insert({ owner_id: owner, title: 't', ...row });
    await expect(insert({ priority: 5 })).rejects.toMatchObject({ code: '23514', constraint: 'tasks_priority_range' });
    const many = Array.from({ length: 21 }, (_, i) => `l${i}`);
    await expect(insert({ labels: many, label_keys: many })).rejects.toMatchObject({ code: '23514', constraint: 'tasks_labels_count' });
    await expect(insert({ labels: ['A', 'B'], label_keys: ['a'] })).rejects.toMatchObject({ code: '23514', constraint: 'tasks_labels_count' });
  });

  it("leaves the tasks table as it was on the way down", async () => {
    await db.knex.migrate.down({ migrationSource, name: PLANNING });
    const { rows } = await db.knex.raw("select column_name from information_schema.columns where table_schema = current_schema() and table_name = 'tasks' order by ordinal_position");
    expect(rows.map((r: { column_name: string }) => r.column_name)).toEqual(['id', 'owner_id', 'title', 'description', 'status', 'created_at', 'updated_at', 'change_xid']);
    expect((await indexes('tasks')).filter((name) => /due_at|priority|label/.test(name))).toEqual([]);
    await migrateToLatest(db.knex);
  });
});

describe('planning queries', () => {
  let owner: string;

  beforeAll(async () => {
    await migrateToLatest(db.knex);
    owner = await insertUser('plans@example.com');
    // 20 owners of 500 tasks: two of three due (in ties of 5), five priorities, a rare label on a few.
    await db.knex.raw(`insert into users (email, password_hash) select 'plan-owner' || i || '@example.com', 'x' from generate_series(1, 19) as i`);
    await db.knex.raw(
      `insert into tasks (owner_id, title, due_at, priority, labels, label_keys)
       select u.id, 'task ' || i, case when i % 3 <> 0 then timestamptz '2026-12-01T00:00:00Z' + (i / 5) * interval '1 hour' end, i % 5,
              case when i % 50 = 0 then array['Rare'] else '{}' end, case when i % 50 = 0 then array['rare'] else '{}' end
       from users u cross join generate_series(1, 500) as i where u.id = ? or u.email like 'plan-owner%'`,
      [owner],
    );
    await db.knex.raw('analyze tasks');
  });

  // The keyset query src/paging/page.ts makes for each sort, continuing after the middle task.
  it.each([
    ["coalesce(due_at, 'infinity')", 'asc', '>', 'tasks_owner_id_due_at_id_index'],
    ["coalesce(due_at, '-infinity')", 'desc', '<', 'tasks_owner_id_due_at_desc_id_index'],
    ['priority', 'asc', '>', 'tasks_owner_id_priority_id_index'],
    ['priority', 'desc', '<', 'tasks_owner_id_priority_id_index'],
  ])('serves a cursor page of one owner by %s %s from its index without sorting', async (key, direction, op, index) => {
    const [middle] = (await db.knex.raw(`select ${key} as k, id from tasks where owner_id = ? order by ${key}, id offset 250 limit 1`, [owner])).rows;
    const keyset = `select * from tasks where owner_id = ? and (${key}, id) ${op} (?, ?) order by ${key} ${direction}, id ${direction} limit 21`;
    const plan = await planOf(keyset, [owner, middle.k, middle.id]);
    expect(plan).toMatch(new RegExp(`Index Scan (Backward )?using ${index}`));
    expect(plan).not.toMatch(/\bSort\b/);
  });

  it('finds the tasks of a rare label through the label index', async () => {
    const { rows } = await db.knex.raw("select 1 from pg_available_extensions where name = 'btree_gin'");
    if (rows.length === 0) return;
    const plan = await planOf("select * from tasks where owner_id = ? and label_keys @> array['rare'] and label_keys <> '{}' order by created_at desc, id desc limit 21", [owner]);
    expect(plan).toContain('tasks_owner_id_label_keys_index');
  });
});
