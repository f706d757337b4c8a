import { configDefaults, defineConfig } from 'vitest/config';
import { firstRun, firstRunOnly } from './tests/support/runs.js';

// Files that time one user's requests against another's flood and assert a ratio: they run on
// their own, after the rest, since three other files on the same two cores swing the ratio by
// more than the bound it checks (a fair-share flood measured 1.3-2.6 x alone, 3.4-4.6 x beside them).
const timed = ['tests/floods.test.ts', 'tests/user-bounds.test.ts'];

const exclude = [...configDefaults.exclude, ...(firstRun ? [] : firstRunOnly)];

const shared = {
  // Forked workers, each running one file at a time. Without isolation a worker keeps the modules
  // it imported from one file to the next (importing the app afresh for every file was a third
  // of a run's CPU); each file still makes its own database and server.
  pool: 'forks',
  isolate: false,
  testTimeout: 30_000,
  hookTimeout: 60_000,
} as const;

export default defineConfig({
  test: {
    // Most of a test's time is spent waiting (on the database, bcrypt's thread pool, child
    // processes, a browser), so more files than cores run well side by side; vitest's default of
    // cores - 1 ran them one at a time on a 2-core machine.
    maxWorkers: 4,
    // `make test-pgbouncer`: the PostgreSQL run once more, the app connecting through PgBouncer.
    // Here, in the root, they run once for both projects, which see what they provide.
    globalSetup: ['tests/support/pglite-snapshot.ts', ...(process.env.TEST_PGBOUNCER === '1' ? ['tests/support/pgbouncer.ts'] : [])],
    projects: [
      { test: { ...shared, name: 'suite', include: ['tests/**/*.test.ts'], exclude: [...exclude, ...timed], maxWorkers: 4 } },
      { test: { ...shared, name: 'timed', include: timed, exclude, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
