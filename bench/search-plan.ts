// What a title search (`GET /tasks?q=`) costs on a large table (make bench-search): 1 000 000
// tasks on PostgreSQL, one owner holding 100 000 of them. Prints EXPLAIN (ANALYZE, BUFFERS) of
// the very statement the API runs for that owner (captured from the tasks use case), first with
// the title trigram index over every owner's tasks (before 20261204000410), then with the
// owner-scoped one, in one run on the same table.
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

const URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/bench_search';
const TASKS = Number(process.env.BENCH_TASKS ?? 1_000_000);
const OWNERS = 1000;
const SHARE = 10; // the big owner holds every 10th task
const SCOPED = '20261204000410_scope_title_search_to_owner';

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

// Titles of a few words drawn from a small vocabulary, as people write them, so that trigrams
// are shared across owners as they are in real data.
async function seed(knex: Knex) {
  await knex.raw(`insert into users (email, password_hash) select 'owner-' || i || '@bench.example', 'x' from generate_series(1, ?) i`, [OWNERS]);
  await knex.raw(
    `insert into tasks (owner_id, title, status, created_at, updated_at)
     select u.id,
            (array['Write', 'Review', 'Call', 'Plan', 'Fix', 'Send', 'Prepare', 'Check'])[1 + g % 8] || ' the ' ||
            (array['quarterly report', 'invoice', 'release notes', 'team meeting', 'budget', 'login bug', 'roadmap', 'contract'])[1 + (g / 8) % 8] ||
            ' ' || (g % 997),
            (array['todo', 'in_progress', 'done'])[1 + g % 3], now() - g * interval '1 second', now() - g * interval '1 second'
     from generate_series(1, ${TASKS}) g
     join users u on u.email = 'owner-' || (case when g % ${SHARE} = 0 then 1 else 2 + g % ${OWNERS - 1} end) || '@bench.example'`,
  );
}

interface Figures {
  ms: number;
  buffers: number;
  /** Heap rows fetched and rechecked against the title. */
  rechecked: number;
}

const buffersIn = (line: string | undefined) => [...(line ?? '').matchAll(/(?:hit|read)=(\d+)/g)].reduce((n, [, b]) => n + Number(b), 0);

async function explain(knex: Knex, label: string, sql: string, bindings: readonly unknown[]): Promise<Figures> {
  await knex.raw(sql, bindings as never[]); // warm the cache: both runs then read from memory
  const { rows } = await knex.raw(`explain (analyze, buffers, costs off) ${sql}`, bindings as never[]);
  const lines: string[] = rows.map((r: Record<string, string>) => Object.values(r)[0]!);
  const text = lines.join('\n');
  // The scans that hand rows up (a Bitmap Index Scan only marks them).
  const heapScans = lines.filter((line) => /Bitmap Heap Scan|(?<!Bitmap )Index Scan|Index Only Scan|Seq Scan/.test(line)).map((line) => Number(/rows=(\d+)/.exec(line.split('(actual')[1] ?? '')?.[1] ?? 0));
  const removed = [...text.matchAll(/Rows Removed by (?:Index Recheck|Filter): (\d+)/g)].reduce((n, [, r]) => n + Number(r), 0);
  console.log(`\n=== ${label}\n${lines.map((line) => `  ${line}`).join('\n')}`);
  return {
    ms: Number(/Execution Time: ([\d.]+)/.exec(text)![1]),
    buffers: buffersIn(lines.find((line) => line.includes('Buffers:'))),
    rechecked: heapScans.reduce((a, b) => a + b, 0) + removed,
  };
}

// `the the` is in no title while its trigrams are in every one: every task of the owner is a
// candidate, and each must be read to find that it does not match. A text whose trigrams are
// in no title costs nothing either way: the index alone answers it.
const SEARCHES: [string, string][] = [
  ['q=the the (in no title: the costliest)', 'the the'],
  ['q=no title says this', 'no title says this'],
  ['q=invoice (1 task in 8)', 'invoice'],
  ['q=budget 12 (rare)', 'budget 12'],
];

async function searches(knex: Knex, owner: string, when: string) {
  const tasks = createTasks(knex, createCursors('bench-secret-key-of-thirty-two-chars'));
  const caller: Caller = { userId: owner, role: 'user', sessionId: owner };
  const listing = (q: string): TaskListing => ({ limit: 20, offset: 0, sort: '-created_at', q });
  const results: [string, Figures][] = [];
  for (const [label, q] of SEARCHES) {
    const { sql, bindings } = await statementOf(knex, () => tasks.list(caller, listing(q)));
    results.push([label, await explain(knex, `${when}: GET /tasks?${label}`, sql, bindings)]);
  }
  return results;
}

if (process.env.BENCH_REUSE !== '1') await recreateDatabase(URL);
const knex = await createDatabase({ databaseUrl: URL });
try {
  await migrateToLatest(knex);
  await knex.migrate.down({ migrationSource, name: SCOPED });
  if (process.env.BENCH_REUSE !== '1') {
    const started = performance.now();
    console.log(`seeding ${TASKS} tasks for ${OWNERS} owners (one of ${TASKS / SHARE}) on PostgreSQL…`);
    await seed(knex);
    await knex.raw('vacuum analyze');
    console.log(`seeded in ${seconds(started)}`);
  }
  const { id: owner } = await knex('users').where('email', 'owner-1@bench.example').first('id');
  const before = await searches(knex, owner, 'before (title trigram index over every owner)');

  const started = performance.now();
  await knex.migrate.up({ migrationSource, name: SCOPED });
  await knex.raw('analyze tasks');
  console.log(`\nmigration ${SCOPED} on ${TASKS} tasks: ${seconds(started)}`);
  const after = await searches(knex, owner, 'after (owner-scoped trigram index)');

  console.log(`\nsummary: PostgreSQL, one owner of ${TASKS / SHARE} among ${TASKS} tasks; a page of 20 and its total. Rows: heap rows`);
  console.log('fetched and checked against the title. Times vary with the load on the machine; buffers and rows do not.');
  const line = (f: Figures) => `${f.ms.toFixed(1).padStart(8)} ms ${String(f.buffers).padStart(7)} buffers ${String(f.rechecked).padStart(7)} rows`;
  for (let i = 0; i < SEARCHES.length; i++) {
    console.log(`  ${before[i]![0].padEnd(40)} before ${line(before[i]![1])}   after ${line(after[i]![1])}`);
  }
} finally {
  await knex.destroy();
}
