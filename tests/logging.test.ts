import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTaskClient, ok, type TaskClient } from '../src/client/index.js';
import { freePort } from './support/conformance-proxy.js';
import { createTestDatabase, databaseEnv, type TestDatabase } from './support/database.js';
import { answersOk, startMain } from './support/main-process.js';

// The logs an operator reads during an incident, from the server as it runs (LOG_FORMAT=json as in
// production). On PostgreSQL the database sits behind a TCP relay that the test can cut.
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

/** A TCP relay to `target` that can be cut: every connection closed and new ones refused. */
async function relay(target: URL) {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = new URL(target);
  url.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: url.href,
    cut() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

const lines = (output: string) => output.trim().split('\n').filter(Boolean);

// The server runs as its own process here, never behind the conformance proxy: that pass would repeat this one.
describe.skipIf(process.env.CONFORMANCE)('request and error logs', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tm-logging-'));
  let db: TestDatabase | undefined;
  let database: ReturnType<typeof relay> extends Promise<infer R> ? R : never;
  let server: ReturnType<typeof startMain>;
  let baseUrl: string;
  let user: { client: TaskClient; email: string; id: string };

  beforeAll(async () => {
    const env: Record<string, string> = { LOG_FORMAT: 'json', LOG_LEVEL: 'info', BCRYPT_ROUNDS: '4' };
    if (onPostgres) {
      db = await createTestDatabase();
      await db.migrate();
      database = await relay(new URL(db.databaseUrl!));
      Object.assign(env, databaseEnv(db, database.url));
    } else {
      env.DATA_DIR = dataDir;
    }
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    server = startMain({ ...env, PORT: String(port) });
    expect(await answersOk(`${baseUrl}/readyz`, 90_000), server.output()).toBe(true);
    const email = 'incident@example.com';
    const client = createTaskClient({ baseUrl });
    const { id } = await ok(client.POST('/auth/register', { body: { email, password: 'correct-horse-battery' } }));
    await client.login(email, 'correct-horse-battery');
    user = { client, email, id };
  }, 120_000);
  afterAll(async () => {
    server?.child.kill('SIGKILL');
    database?.cut();
    await db?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("names the caller's user id and the client address on each request line, never the e-mail", async () => {
    await ok(user.client.GET('/auth/me'));
    await sleep(100);
    const line = lines(server.output())
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => (l.req as { path?: string } | undefined)?.path === '/auth/me');
    expect(line).toMatchObject({ level: 30, user_id: user.id, client_address: expect.stringMatching(/127\.0\.0\.1$/), res: { status: 200 } });
    // Without SMTP_URL, development writes each mail to the log as its delivery (the contract's
    // way to try the reset flow); no other line may carry the address.
    const others = lines(server.output()).filter((l) => !('mail' in (JSON.parse(l) as object)));
    expect(others.join('\n')).not.toContain(user.email);
  });

  it.skipIf(!onPostgres)('during a database outage, logs each 5xx at error level with its error, and writes nothing but JSON lines, the database library\'s warnings included', async () => {
    database.cut();
    // The first requests may find pooled connections that the cut broke; later ones must open new
    // ones. A user's request may already fail at the per-user bound's store (its own pool); the
    // readiness check asks through knex.
    for (let i = 0; i < 5 && !/Acquire connection error/.test(server.output()); i++) {
      expect((await user.client.GET('/tasks')).response.status).toBe(503);
      expect((await fetch(`${baseUrl}/readyz`)).status).toBe(503);
      await sleep(200);
    }
    const parsed = lines(server.output()).map((line) => {
      expect(() => JSON.parse(line), line).not.toThrow();
      return JSON.parse(line) as Record<string, unknown>;
    });
    const failed = parsed.find((l) => (l.req as { path?: string } | undefined)?.path === '/tasks' && (l.res as { status: number }).status === 503);
    expect(failed).toMatchObject({ level: 50, client_address: expect.any(String), err: { message: expect.any(String) } });
    // knex's own account of the failed connection, which it writes with its stack.
    expect(parsed.some((l) => l.level === 40 && /Acquire connection error/.test(String(l.msg)))).toBe(true);
  });
});
