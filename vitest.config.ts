import { configDefaults, defineConfig } from 'vitest/config';
import { firstRun, firstRunOnly } from './tests/support/runs.js';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(firstRun ? [] : firstRunOnly)],
    // Forked workers, each running one file at a time. Without isolation a worker keeps the modules
    // it imported from one file to the next (importing the app afresh for every file was a third
    // of a run's CPU); each file still makes its own database and server.
    pool: 'forks',
    isolate: false,
    // Most of a test's time is spent waiting (on the database, bcrypt's thread pool, child
    // processes, a browser), so more files than cores run well side by side; vitest's default of
    // cores - 1 ran them one at a time on a 2-core machine.
    maxWorkers: 4,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // `make test-pgbouncer`: the PostgreSQL run once more, the app connecting through PgBouncer.
    globalSetup: ['tests/support/pglite-snapshot.ts', ...(process.env.TEST_PGBOUNCER === '1' ? ['tests/support/pgbouncer.ts'] : [])],
  },
});
