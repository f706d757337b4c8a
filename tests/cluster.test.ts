import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/conformance-proxy.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { answersOk, startMain } from './support/main-process.js';

// The cluster primary and its workers (WEB_CONCURRENCY=2), which need PostgreSQL.
const REQUEST_TIMEOUT_SECONDS = 5;

type Outcome = 'answered' | 'reset' | 'hung';

/** One new connection, one request: answered, reset (or closed) without an answer, or neither in time. */
function oneConnection(port: number, withinMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const settle = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle('hung'), withinMs);
    socket.on('connect', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('error', () => settle('reset'));
    socket.on('close', () => settle(answer.startsWith('HTTP/1.1 200') ? 'answered' : 'reset'));
  });
}

const workerPids = (primary: number) =>
  execFileSync('ps', ['-o', 'pid=', '--ppid', String(primary)], { encoding: 'utf8' }).split('\n').map(Number).filter(Boolean);

// Processes and connections, not pooling: once on PostgreSQL, not again through PgBouncer.
describe.skipIf(!process.env.TEST_DATABASE_URL || process.env.TEST_PGBOUNCER)('the cluster primary', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.migrate();
  });
  afterAll(() => db?.destroy());

  it('when a worker is killed (kill -9) under a stream of new connections, answers or resets every connection within the request timeout, logs the exit once per field, and replaces the worker', async () => {
    const port = await freePort();
    const { child, output } = startMain({
      DATABASE_URL: db.databaseUrl!,
      WEB_CONCURRENCY: '2',
      PORT: String(port),
      REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_SECONDS),
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      SHUTDOWN_DRAIN_SECONDS: '0',
    });
    try {
      expect(await answersOk(`http://127.0.0.1:${port}/healthz`, 90_000), output()).toBe(true);
      while (workerPids(child.pid!).length < 2) await sleep(100);
      const outcomes: Outcome[] = [];
      let streaming = true;
      // 16 clients, each opening one connection after another: there is nearly always one being handed over.
      const stream = Promise.all(
        Array.from({ length: 16 }, async () => {
          while (streaming) outcomes.push(await oneConnection(port, (REQUEST_TIMEOUT_SECONDS + 5) * 1000));
        }),
      );
      for (let kill = 0; kill < 2; kill++) {
        await sleep(1000);
        const [victim] = workerPids(child.pid!);
        process.kill(victim!, 'SIGKILL');
        // Its replacement starts; the stream goes on meanwhile.
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline && !(workerPids(child.pid!).length === 2 && !workerPids(child.pid!).includes(victim!))) await sleep(200);
      }
      streaming = false;
      await stream;
      const count = (outcome: Outcome) => outcomes.filter((o) => o === outcome).length;
      expect(count('hung'), `answered ${count('answered')}, reset ${count('reset')}`).toBe(0);
      expect(count('answered')).toBeGreaterThan(100);

      const exits = output().split('\n').filter((line) => line.includes('worker exited'));
      expect(exits.length, output()).toBe(2);
      for (const line of exits) {
        expect(line.match(/"pid":/g)).toHaveLength(1);
        expect(JSON.parse(line)).toMatchObject({ level: 50, worker_pid: expect.any(Number), signal: 'SIGKILL' });
      }
      expect(await answersOk(`http://127.0.0.1:${port}/readyz`, 30_000)).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 180_000);

  it('stops with exit 1 and says why when its workers cannot listen, instead of restarting them for ever', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    try {
      const { child, output } = startMain({ DATABASE_URL: db.databaseUrl!, WEB_CONCURRENCY: '2', PORT: String(port), HOST: '127.0.0.1', LOG_FORMAT: 'json', LOG_LEVEL: 'info' });
      const [code] = await once(child, 'exit');
      expect(code, output()).toBe(1);
      expect(output()).toContain(`cannot listen on 127.0.0.1 port ${port} (PORT): the port is in use`);
      expect(output()).toContain('a worker exited before it could serve');
      expect(output()).not.toContain('starting another');
      for (const line of output().trim().split('\n')) expect(() => JSON.parse(line), line).not.toThrow();
    } finally {
      taken.close();
    }
  }, 120_000);
});
