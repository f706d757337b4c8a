/**
 * make test runs the suite up to four times (embedded, through Prism, on PostgreSQL, through
 * PgBouncer). The files here depend on neither the database nor the proxy (the spec, generated
 * code, packaging, the docs, processes on their own embedded database): they run in the first run
 * only, and vitest.config.ts leaves them out of the others.
 */
export const firstRun = !process.env.TEST_DATABASE_URL && process.env.CONFORMANCE !== 'prism';

export const firstRunOnly = [
  'breaking-changes',
  'client-package',
  'deployment',
  'dev-loop',
  'docs',
  'docs-assets',
  'embedded-database',
  'generated',
  'generated-client',
  'mock',
  'startup',
].map((name) => `tests/${name}.test.ts`);
