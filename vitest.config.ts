import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Each file runs in its own process, so each in-memory PGlite stays private to its file.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // `make test-pgbouncer`: the PostgreSQL run once more, the app connecting through PgBouncer.
    globalSetup: process.env.TEST_PGBOUNCER === '1' ? ['tests/support/pgbouncer.ts'] : [],
  },
});
