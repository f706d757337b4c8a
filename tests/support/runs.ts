/**
 * make test runs the suite up to three times (embedded, through Prism, on PostgreSQL). Tests that
 * depend on neither the database nor the proxy (builds, type checks, child processes on their own
 * embedded database) run in the first run only.
 */
export const firstRun = !process.env.TEST_DATABASE_URL && process.env.CONFORMANCE !== 'prism';
