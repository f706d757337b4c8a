import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A tar of a new, empty PGlite data directory, for the embedded runs. */
    emptyPgliteDataDir: string | undefined;
  }
}

// initdb is most of an in-memory PGlite's start (seconds of CPU, once per test file): run it once
// and let every file open a copy. The copy is the empty cluster, so migrations still run per file.
// In a child process, because PGlite never becomes ready inside vitest's own process.
export default function setup(project: TestProject) {
  if (process.env.TEST_DATABASE_URL) return;
  const dir = mkdtempSync(join(tmpdir(), 'tm-pglite-'));
  const file = join(dir, 'empty.tar');
  execFileSync('node_modules/.bin/tsx', ['tests/support/dump-empty-pglite.ts', file], { stdio: 'inherit' });
  project.provide('emptyPgliteDataDir', file);
  return () => rmSync(dir, { recursive: true, force: true });
}
