// What one user's costliest requests on 160 connections do to another user (issue 22): the
// other user's GET /tasks p50 alone and during the flood, with the per-user bounds off
// (USER_CONCURRENCY_LIMIT=0, USER_READ_RATE_LIMIT=0) and at their defaults, in one run. The
// flood is a title search that every title's trigrams match and no title contains, by an owner
// of 20 000 tasks among 70 000. PostgreSQL only (TEST_DATABASE_URL).
import { startServer } from '../tests/support/app-server.js';
import { floodOfSearches, seedGreedy } from '../tests/support/greedy.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 160);
const SAMPLES = Number(process.env.BENCH_N ?? 30);

if (!process.env.TEST_DATABASE_URL) {
  console.log('bench/greedy-user.ts needs PostgreSQL: set TEST_DATABASE_URL');
  process.exit(0);
}

const settings: [string, Record<string, string>][] = [
  ['bounds off', { USER_CONCURRENCY_LIMIT: '0', USER_READ_RATE_LIMIT: '0' }],
  ['bounds on (defaults)', {}],
];
console.log(`another user's GET /tasks while one user searches on ${CONNECTIONS} connections (PostgreSQL, DATABASE_POOL_MAX=10)`);
for (const [label, env] of settings) {
  const server = await startServer(env);
  try {
    const flood = await seedGreedy(server, { ownTasks: 20_000, othersTasks: 50_000 });
    const f = await floodOfSearches(flood, { connections: CONNECTIONS, samples: SAMPLES });
    const bystander = Object.entries(f.bystanderStatuses.reduce<Record<number, number>>((n, s) => ({ ...n, [s]: (n[s] ?? 0) + 1 }), {}));
    console.log(
      `  ${label.padEnd(22)} quiet p50 ${f.quietP50.toFixed(1).padStart(7)} ms  flood p50 ${f.floodP50.toFixed(1).padStart(8)} ms (×${(f.floodP50 / f.quietP50).toFixed(1)})` +
        `  other user's statuses ${JSON.stringify(Object.fromEntries(bystander))}  greedy user's ${JSON.stringify(f.greedyStatuses)}`,
    );
  } finally {
    await server.close();
  }
}
