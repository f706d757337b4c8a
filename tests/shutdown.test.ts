import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/conformance-proxy.js';
import { createTestDatabase, databaseEnv, type TestDatabase } from './support/database.js';
import { runKeepAliveClients } from './support/keep-alive-clients.js';
import { answersOk, startMain } from './support/main-process.js';

// A restart that loses nothing: SIGTERM while 16 clients keep sending on kept-alive connections.
const DRAIN_SECONDS = 2;
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
// The server runs as its own process here, never behind the conformance proxy: that pass would repeat this one.
const conformance = Boolean(process.env.CONFORMANCE);

describe.each([
  { workers: 1, skip: conformance },
  // Several workers need PostgreSQL (the embedded database serves one process).
  { workers: 2, skip: !onPostgres },
])('SIGTERM with WEB_CONCURRENCY=$workers', ({ workers, skip }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tm-shutdown-'));
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    if (skip || !onPostgres) return;
    db = await createTestDatabase();
    await db.migrate();
  });
  afterAll(async () => {
    await db?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.skipIf(skip)(
    'answers /readyz 503 for the drain while serving, then moves 16 keep-alive clients off with Connection: close: no reset, no failed request, exit 0',
    async () => {
      const port = await freePort();
      const database: Record<string, string> = db ? databaseEnv(db) : { DATA_DIR: dataDir };
      const { child, output } = startMain({ ...database, PORT: String(port), WEB_CONCURRENCY: String(workers), SHUTDOWN_DRAIN_SECONDS: String(DRAIN_SECONDS) });
      const exited = once(child, 'exit');
      try {
        const baseUrl = `http://127.0.0.1:${port}`;
        expect(await answersOk(`${baseUrl}/readyz`, 90_000), output()).toBe(true);
        let signalled = false;
        const readinessAfterSignal: number[] = [];
        const clients = runKeepAliveClients({
          baseUrl,
          clients: 16,
          // Mostly the liveness check; every fourth request asks the database through /readyz.
          next: (_client, sent) => ({ method: 'GET', path: sent % 4 === 3 ? '/readyz' : '/healthz' }),
          until: exited,
        });
        const readiness = (async () => {
          while (!signalled) await sleep(50);
          // Time for the signal to reach the process (and, through the primary, its workers).
          await sleep(300);
          for (let i = 0; i < 5; i++) {
            const status = await fetch(`${baseUrl}/readyz`).then((r) => r.status, () => 0);
            readinessAfterSignal.push(status);
            await sleep(100);
          }
        })();
        await sleep(1000);
        child.kill('SIGTERM');
        signalled = true;
        const [tally, [code]] = await Promise.all([clients, exited, readiness]);
        expect(tally.failures, output()).toEqual([]);
        expect(code, output()).toBe(0);
        // Every client was answered, told to close, and then found the listener closed.
        expect(tally.statuses[200]).toBeGreaterThan(16);
        expect(tally.closes).toBeGreaterThanOrEqual(16);
        expect(tally.refusedAfterClose).toBe(16);
        // During the drain the instance says it is not ready, and still answers.
        expect(readinessAfterSignal).toEqual([503, 503, 503, 503, 503]);
        expect(tally.statuses[503]).toBeGreaterThan(0);
      } finally {
        child.kill('SIGKILL');
      }
    },
    120_000,
  );
});
