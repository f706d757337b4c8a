// The planning queries on a large table (make bench-plans): 1 000 000 tasks on PostgreSQL, one
// owner holding 10 000 of them. Times the planning migration on the filled table (the backfill
// of completed_at included), then prints EXPLAIN (ANALYZE, BUFFERS) of the very statements the
// API runs for that owner (captured from the tasks use case, not written again here): a due_at
// page, a label filter, a priority filter, deep cursor pages, a due range and GET /labels. Each
// must read that owner's rows only, and a deep page about what the first one reads.
import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import { migrationSource } from '../migrations/index.js';
import { createDatabase } from '../src/db/knex.js';
import { migrateToLatest } from '../src/db/migrate.js';
import type { Caller } from '../src/http/operations.js';
import { createCursors } from '../src/paging/cursor.js';
import { createTasks, type TaskListing } from '../src/tasks/tasks.js';
import { recreateDatabase } from './load/database.js';
import { statementOf } from './support.js';

const URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/bench_plans';
const TASKS = Number(process.env.BENCH_TASKS ?? 1_000_000);
const OWNERS = 1000;
const BIG = 10_000;
const PLANNING = '20261204000100_add_task_planning';

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

async function seed(knex: Knex) {
  await knex.raw(`insert into users (email, password_hash) select 'owner-' || i || '@bench.example', 'x' from generate_series(1, ?) i`, [OWNERS]);
  // The big owner's tasks are every 100th row, spread over the table as a long-lived account's are.
  await knex.raw(
    `insert into tasks (owner_id, title, status, created_at, updated_at)
     select u.id, 'Task ' || g, (array['todo', 'in_progress', 'done'])[1 + g % 3],
            now() - g * interval '1 second', now() - g * interval '1 second' + (g % 7) * interval '1 minute'
     from generate_series(1, ${TASKS}) g
     join users u on u.email = 'owner-' || (case when g % ${TASKS / BIG} = 0 then 1 else 2 + g % ${OWNERS - 1} end) || '@bench.example'`,
  );
}

// Two of three tasks due (over a year, a quarter of it past), five priorities, labels in mixed
// spellings: a common one (on 3 tasks in 7), others on 1 in 7, and `Audit` on 1 in 200; drawn
// from a hash of the id, so that the owner's share of each is the table's. The seed's labels are
// ASCII, whose fold (src/tasks/labels.ts) is lower(). Written with the table's other indexes
// dropped and rebuilt after, as a bulk load does: updating 1 000 000 rows through ten indexes took
// minutes here.
async function plan(knex: Knex) {
  const { rows } = await knex.raw<{ rows: { indexname: string; indexdef: string }[] }>(
    "select indexname, indexdef from pg_indexes where schemaname = current_schema() and tablename = 'tasks' and indexname <> 'tasks_pkey'",
  );
  for (const { indexname } of rows) await knex.raw(`drop index ${indexname}`);
  await knex.raw(
    `update tasks set
       due_at = case when h % 3 <> 0 then now() - interval '90 days' + (h % 525600) * interval '1 minute' end,
       priority = (h / 7) % 5,
       labels = l.labels, label_keys = array(select lower(x) from unnest(l.labels) x)
     from (select id, abs(hashtext(id::text)) as h from tasks) t,
          lateral (select string_to_array((array['', 'finance', 'Finance,q4', 'FINANCE,frontend,Q1', 'backend', 'Design,Q2,docs', 'ops'])[1 + (t.h / 35) % 7], ',')
                          || case when (t.h / 245) % 200 = 0 then array['Audit'] else '{}' end as labels) l
     where tasks.id = t.id`,
  );
  for (const { indexdef } of rows) await knex.raw(indexdef);
}

interface Figures {
  ms: number;
  rows: number;
  /** Buffers of the whole statement, and of the InitPlan that counts `total` (none for GET /labels). */
  buffers: number;
  total: number;
}

const buffersIn = (line: string | undefined) => [...(line ?? '').matchAll(/(?:hit|read)=(\d+)/g)].reduce((n, [, b]) => n + Number(b), 0);

/** EXPLAIN (ANALYZE, BUFFERS) once, printed, and its figures read from the text. */
async function explain(knex: Knex, label: string, sql: string, bindings: readonly unknown[]): Promise<Figures> {
  const { rows } = await knex.raw(`explain (analyze, buffers, costs off) ${sql}`, bindings as never[]);
  const lines: string[] = rows.map((r: Record<string, string>) => Object.values(r)[0]!);
  const initPlan = lines.findIndex((line) => line.includes('InitPlan'));
  const figures = {
    ms: Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))![1]),
    rows: Number(/rows=(\d+)/.exec(lines[0]!)![1]),
    buffers: buffersIn(lines.find((line) => line.includes('Buffers:'))),
    total: initPlan < 0 ? 0 : buffersIn(lines.slice(initPlan).find((line) => line.includes('Buffers:'))),
  };
  console.log(`\n=== ${label}\n${lines.map((line) => `  ${line}`).join('\n')}`);
  return figures;
}

async function fill(knex: Knex) {
  await migrateToLatest(knex);
  await knex.migrate.down({ migrationSource, name: PLANNING });
  let started = performance.now();
  console.log(`seeding ${TASKS} tasks for ${OWNERS} owners (one of ${BIG}) on PostgreSQL…`);
  await seed(knex);
  await knex.raw('vacuum analyze');
  console.log(`seeded in ${seconds(started)}`);

  started = performance.now();
  const done = (await knex('tasks').where('status', 'done').count({ n: '*' }).first())!.n;
  await knex.migrate.up({ migrationSource, name: PLANNING });
  console.log(`migration ${PLANNING} on ${TASKS} tasks (${done} done, backfilled): ${seconds(started)}`);

  started = performance.now();
  await plan(knex);
  await knex.raw('vacuum analyze tasks');
  console.log(`due dates, priorities and labels set in ${seconds(started)}`);
}

// What the planning columns cost the statements 1.1 already had (as the API sends them): on two
// fresh copies of the table, one as 1.2 has it (every column and index, the completed_at trigger)
// and one as 1.1 had it (its columns and indexes only), timed in alternating blocks from this one
// process, so that both see the same load and the same physical history; the ratio of the two
// medians is what the new columns, indexes and trigger add at the database.
async function costToExisting(knex: Knex, owner: string) {
  const BLOCKS = 9;
  const PER_BLOCK = 200;
  const COLUMNS_1_1 = 'id, owner_id, title, description, status, created_at, updated_at';
  const { rows: indexes } = await knex.raw<{ rows: { indexname: string; indexdef: string }[] }>(
    "select indexname, indexdef from pg_indexes where schemaname = current_schema() and tablename = 'tasks' and indexname <> 'tasks_pkey'",
  );
  const copy = async (table: string, columns: string, planning: boolean) => {
    await knex.raw(`drop table if exists ${table}`);
    await knex.raw(`create table ${table} as select ${columns} from tasks`);
    await knex.raw(`alter table ${table} add primary key (id), alter id set default gen_random_uuid(), alter status set default 'todo',
      alter created_at set default now(), alter updated_at set default now()`);
    if (planning) {
      await knex.raw(`alter table ${table} alter priority set default 0, alter labels set default '{}', alter label_keys set default '{}'`);
      await knex.raw(`create trigger ${table}_completed_at before insert or update of status on ${table} for each row execute function tasks_set_completed_at()`);
    }
    for (const { indexname, indexdef } of indexes) {
      if (!planning && /due_at|priority|label/.test(indexname)) continue;
      await knex.raw(indexdef.replace(/INDEX tasks_/, `INDEX ${table}_`).replace(/ ON (\S+\.)?tasks /, ` ON ${table} `));
    }
    await knex.raw(`vacuum analyze ${table}`);
  };
  const [before, after] = ['tasks_as_1_1', 'tasks_as_1_2'];
  await copy(before, COLUMNS_1_1, false);
  await copy(after, '*', true);
  const ids = (await knex('tasks').where('owner_id', owner).orderBy('id').limit(PER_BLOCK).select('id')).map((r: { id: string }) => r.id);
  const statements: [string, (table: string, i: number) => Promise<unknown>][] = [
    ['GET /tasks/{id}', (table, i) => knex.raw(`select * from ${table} where id = ? and owner_id = ?`, [ids[i]!, owner])],
    ['POST /tasks', (table, i) => knex.raw(`insert into ${table} (owner_id, title, description, status) values (?, ?, null, ?) returning *`, [owner, `New task ${i}`, i % 2 ? 'done' : 'todo'])],
    [
      'PUT /tasks/{id}, status changing',
      (table, i) =>
        knex.raw(`update ${table} set title = ?, status = ?, updated_at = greatest(now(), updated_at + interval '1 millisecond') where id = ? and owner_id = ? returning *`, [
          `Renamed ${i}`,
          ['todo', 'done', 'in_progress'][i % 3]!,
          ids[i]!,
          owner,
        ]),
    ],
  ];
  console.log(`\ncost to the statements 1.1 had: ${BLOCKS} alternating blocks of ${PER_BLOCK} on fresh copies of the table as 1.1 and as 1.2 have it; median ms per statement`);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [label, statement] of statements) {
    const times: Record<string, number[]> = { [before]: [], [after]: [] };
    for (let block = 0; block < BLOCKS; block++) {
      for (const table of block % 2 ? [after, before] : [before, after]) {
        const started = performance.now();
        for (let i = 0; i < PER_BLOCK; i++) await statement(table, i);
        times[table]!.push((performance.now() - started) / PER_BLOCK);
      }
    }
    const [old, now] = [median(times[before]!), median(times[after]!)];
    console.log(`  ${label.padEnd(36)} 1.1 ${old.toFixed(3)} ms, 1.2 ${now.toFixed(3)} ms: ×${(now / old).toFixed(2)}`);
  }
  await knex.raw(`drop table ${before}, ${after}`);
}

async function report(knex: Knex) {
  const { id: owner } = await knex('users').where('email', 'owner-1@bench.example').first('id');
  const counts = await knex('tasks').where('owner_id', owner).first(knex.raw('count(*)::int as tasks'), knex.raw("count(*) filter (where label_keys @> '{finance}')::int as finance"), knex.raw("count(*) filter (where label_keys @> '{audit}')::int as audit"), knex.raw('count(*) filter (where priority = 4)::int as urgent'), knex.raw('count(due_at)::int as due'));
  console.log(`the owner: ${JSON.stringify(counts)}; all tasks: ${(await knex('tasks').count({ n: '*' }).first())!.n}`);

  const tasks = createTasks(knex, createCursors('bench-secret-key-of-thirty-two-chars'));
  const caller: Caller = { userId: owner, role: 'user', sessionId: owner };
  const listing = (query: Partial<TaskListing>): TaskListing => ({ limit: 20, offset: 0, sort: '-created_at', ...query });
  /** The cursor after `depth` tasks of the listing, as a client walking it would hold. */
  const cursorAt = async (query: Partial<TaskListing>, depth: number) => (await tasks.list(caller, listing({ ...query, offset: depth - 20 }))).next_cursor!;
  const show = async (label: string, query: Partial<TaskListing>) => {
    const { sql, bindings } = await statementOf(knex, () => tasks.list(caller, listing(query)));
    return explain(knex, label, sql, bindings);
  };

  const results: [string, Figures][] = [];
  const run = async (label: string, query: Partial<TaskListing>) => results.push([label, await show(label, query)]);
  await run('GET /tasks?limit=20 (1.1 default, for comparison)', {});
  await run('GET /tasks?sort=due_at&limit=20', { sort: 'due_at' });
  await run('GET /tasks?sort=-due_at&limit=20', { sort: '-due_at' });
  await run('GET /tasks?sort=due_at, cursor after 5 000 (deep)', { sort: 'due_at', cursor: await cursorAt({ sort: 'due_at' }, 5000) });
  await run('GET /tasks?sort=due_at, cursor after 9 000 (among the tasks without due_at)', { sort: 'due_at', cursor: await cursorAt({ sort: 'due_at' }, 9000) });
  await run('GET /tasks?sort=-due_at, cursor after 5 000 (deep)', { sort: '-due_at', cursor: await cursorAt({ sort: '-due_at' }, 5000) });
  await run('GET /tasks?label=finance (on 3 tasks in 7)', { label: 'finance' });
  await run('GET /tasks?label=AUDIT (on 1 task in 200)', { label: 'AUDIT' });
  await run('GET /tasks?label=finance, cursor after 2 000 (deep)', { label: 'finance', cursor: await cursorAt({ label: 'finance' }, 2000) });
  await run('GET /tasks?priority=urgent', { priority: 'urgent' });
  await run('GET /tasks?sort=-priority&limit=20', { sort: '-priority' });
  await run('GET /tasks?sort=-priority, cursor after 5 000 (deep)', { sort: '-priority', cursor: await cursorAt({ sort: '-priority' }, 5000) });
  const today = new Date();
  today.setUTCHours(0, 0, 0, 0);
  const day = (offset: number) => new Date(today.getTime() + offset * 86_400_000).toISOString();
  await run('GET /tasks?sort=due_at&due_after=today&due_before=+7 days', { sort: 'due_at', due_after: day(0), due_before: day(7) });
  await run('GET /tasks?due_before=now (overdue, default sort)', { due_before: new Date().toISOString() });

  const labels = await statementOf(knex, async () => {
    const { createLabelList } = await import('../src/tasks/label-list.js');
    return createLabelList(knex).list(caller);
  });
  results.push(['GET /labels', await explain(knex, 'GET /labels', labels.sql, labels.bindings)]);

  await costToExisting(knex, owner);

  console.log(`\nsummary: PostgreSQL, one owner of ${BIG} among ${TASKS} tasks. Buffers of the statement, of which the page itself`);
  console.log('(the rest counts `total`, every task of the owner that matches). Times vary with the load on the machine; buffers do not.');
  for (const [label, f] of results) {
    const page = f.total > 0 ? `${String(f.buffers - f.total).padStart(5)} page` : ''.padStart(10);
    console.log(`  ${label.padEnd(76)} ${String(f.rows).padStart(4)} rows ${f.ms.toFixed(2).padStart(7)} ms ${String(f.buffers).padStart(6)} buffers ${page}`);
  }
}

// BENCH_REUSE=1: the database is filled already (by an earlier run); only explain again.
const reuse = process.env.BENCH_REUSE === '1';
if (!reuse) await recreateDatabase(URL);
const knex = await createDatabase({ databaseUrl: URL });
try {
  if (!reuse) await fill(knex);
  await report(knex);
} finally {
  await knex.destroy();
}
