import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { databaseNameOf, withDatabase } from '../src/db/create-database.js';
import { createChangeListener, LISTENER_NAME } from '../src/sync/listener.js';
import { createPositionTokens } from '../src/sync/position.js';
import { pino } from 'pino';
import { changeOf, isChange, openEvents, within, type EventStream } from './support/events.js';
import { answersOk, startMain } from './support/main-process.js';
import { firstRun } from './support/runs.js';
import { freePort } from './support/conformance-proxy.js';
import { createTask } from './support/tasks.js';
import { problemOf, useServer, type TestServer } from './support/server.js';
import { signUp, type SignedUp } from './support/users.js';

// Streams bypass the conformance proxy: Prism reads a whole response before it judges it, and an
// event stream never ends. Its status and headers are still checked against the spec here.
const SECRET_KEY = 'a test secret key for the event stream tests';
const server = useServer({ SECRET_KEY, REQUEST_TIMEOUT_SECONDS: '1', METRICS_PORT: '0' }, { direct: true });
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
// The contract: a session's end reaches its streams within 5 s.
const SESSION_END_MS = 5_000;

const open: EventStream[] = [];
afterAll(() => open.forEach((s) => s.close()));

async function stream(user: SignedUp, options: { since?: string; lastEventId?: string; via?: TestServer; token?: string } = {}) {
  const s = await openEvents((options.via ?? server()).baseUrl, options.token ?? user.client.tokens!.access_token, options);
  open.push(s);
  return s;
}
/** A stream that has sent everything up to now: what comes next is live. */
async function liveStream(user: SignedUp, options: Parameters<typeof stream>[1] = {}) {
  const s = await stream(user, options);
  expect(s.response.status).toBe(200);
  await s.next((e) => e.event === 'ready');
  return s;
}
const changesSince = (user: SignedUp, since?: string) => ok(user.client.GET('/tasks/changes', { params: { query: { since } } }));

describe('GET /tasks/events', () => {
  it('answers 200 text/event-stream, not cached, and says when it is live with a position that since accepts', async () => {
    const user = await signUp(server());
    const s = await stream(user);
    expect(s.response.status).toBe(200);
    expect(s.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(s.response.headers.get('cache-control')).toBe('no-store');
    const ready = await s.next();
    expect(ready.event).toBe('ready');
    expect(ready.data).toEqual({ next_since: ready.id });
    expect(await changesSince(user, ready.id)).toMatchObject({ changes: [], has_more: false });
  });

  it('pushes a create, an update and a delete as they happen, each as /tasks/changes has it, with an id since accepts', async () => {
    const user = await signUp(server());
    const s = await liveStream(user);
    const task = await createTask(user, { title: 'pushed' });
    const created = await s.next(isChange);
    expect(created.event).toBe('upsert');
    expect(created.data).toEqual({ type: 'upsert', task });

    const updated = await ok(user.client.PUT('/tasks/{id}', { params: { path: { id: task.id } }, body: { status: 'done' } }));
    expect((await s.next(isChange)).data).toEqual({ type: 'upsert', task: updated });
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: task.id } } }));
    const deleted = await s.next(isChange);
    expect(deleted.event).toBe('delete');
    expect(deleted.data).toEqual({ type: 'delete', id: task.id, deleted_at: expect.any(String) });
    expect(await changesSince(user, deleted.id)).toMatchObject({ changes: [], has_more: false });
    expect(await changesSince(user, created.id)).toMatchObject({ changes: [{ type: 'delete', id: task.id }] });
  });

  it("sends only the caller's own changes", async () => {
    const user = await signUp(server());
    const other = await signUp(server());
    const s = await liveStream(user);
    await createTask(other, { title: "someone else's" });
    const own = await createTask(user, { title: 'own' });
    expect(changeOf(await s.next(isChange))).toEqual({ type: 'upsert', task: own });
  });

  it('with since, first sends every change after it, then ready, then live changes', async () => {
    const user = await signUp(server());
    const since = (await changesSince(user)).next_since;
    const missed = [];
    for (let i = 0; i < 3; i++) missed.push(await createTask(user, { title: `missed ${i}` }));
    const s = await stream(user, { since });
    const backlog = [await s.next(), await s.next(), await s.next()];
    expect(backlog.map((e) => changeOf(e))).toEqual(expect.arrayContaining(missed.map((task) => ({ type: 'upsert', task }))));
    expect((await s.next()).event).toBe('ready');
    const live = await createTask(user, { title: 'live' });
    expect(changeOf(await s.next(isChange))).toEqual({ type: 'upsert', task: live });
  });

  it('resumes from Last-Event-ID, which wins over since, and misses nothing made while disconnected', async () => {
    const user = await signUp(server());
    const first = await liveStream(user);
    await createTask(user, { title: 'seen' });
    const seen = await first.next(isChange);
    first.close();
    const whileAway = await createTask(user, { title: 'made while disconnected' });
    const since = (await changesSince(user)).next_since; // later than Last-Event-ID: must not be used
    const again = await stream(user, { since, lastEventId: seen.id });
    expect(again.response.status).toBe(200);
    expect(changeOf(await again.next())).toEqual({ type: 'upsert', task: whileAway });
  });

  it('refuses a bad since with 422 naming /query/since, and a bad Last-Event-ID naming /header/Last-Event-ID', async () => {
    const user = await signUp(server());
    const other = await signUp(server());
    const othersPosition = (await changesSince(other)).next_since;
    const bySince = await stream(user, { since: othersPosition });
    expect(bySince.response.status).toBe(422);
    expect((await problemOf(bySince.response)).errors).toEqual([{ pointer: '/query/since', message: expect.any(String) }]);
    const byHeader = await stream(user, { lastEventId: 'not-a-position' });
    expect(byHeader.response.status).toBe(422);
    expect((await problemOf(byHeader.response)).errors).toEqual([{ pointer: '/header/Last-Event-ID', message: expect.any(String) }]);
  });

  it('answers a Last-Event-ID older than the retention with 410', async () => {
    const user = await signUp(server());
    const old = createPositionTokens(SECRET_KEY).encode(user.id, { kind: 'since', snapshot: { text: '1:1:', at: Date.now() - 31 * 86_400_000 } });
    const s = await stream(user, { lastEventId: old });
    expect(s.response.status).toBe(410);
    expect(await problemOf(s.response)).toMatchObject({ type: '/problems/since-expired' });
  });

  it('needs a bearer token', async () => {
    expect((await stream(await signUp(server()), { token: 'not-a-token' })).response.status).toBe(401);
  });

  it('keeps an idle stream open past the request timeout, with a comment at least every 15 s', async () => {
    const user = await signUp(server());
    const s = await liveStream(user);
    const waited = Date.now();
    while (s.comments.length === 0 && Date.now() - waited < 15_000) await sleep(100);
    expect(s.comments).toContain('keep-alive');
    expect(await within(s.ended, 0)).toBe(false);
  }, 30_000);
});

describe('the end of a stream', () => {
  /** A second session of the same user, to act from while the first one streams. */
  const secondSession = async (user: SignedUp) => {
    const other = server().client();
    await other.login(user.email, user.password);
    return other;
  };
  const sessionOf = (user: SignedUp) => (jwt.decode(user.client.tokens!.access_token) as { sid: string }).sid;

  it.each([
    ['logout', async (user: SignedUp) => user.client.logout()],
    ['logout-all', async (user: SignedUp) => void (await ok((await secondSession(user)).POST('/auth/logout-all')))],
    ['the session deleted', async (user: SignedUp) => {
      const other = await secondSession(user);
      await ok(other.DELETE('/auth/sessions/{id}', { params: { path: { id: sessionOf(user) } } }));
    }],
    ['a password change', async (user: SignedUp) => {
      const other = await secondSession(user);
      await ok(other.POST('/auth/password', { body: { current_password: user.password, new_password: 'another-horse-battery' } }));
    }],
    ['deactivation', async (user: SignedUp) => {
      const admin = await signUp(server(), { role: 'admin' });
      await ok(admin.client.PATCH('/users/{id}', { params: { path: { id: user.id } }, body: { is_active: false } }));
    }],
  ])('comes within 5 s of %s', async (_name, endSession) => {
    const user = await signUp(server());
    const s = await liveStream(user);
    await endSession(user);
    expect(await within(s.ended, SESSION_END_MS)).toBe(true);
  });

  it('comes when the access token expires, not before', async () => {
    const user = await signUp(server());
    const claims = jwt.decode(user.client.tokens!.access_token) as { sub: string; sid: string; role: string };
    const shortLived = jwt.sign({ role: claims.role, sid: claims.sid, typ: 'access' }, SECRET_KEY, { algorithm: 'HS256', subject: claims.sub, expiresIn: 5 });
    const expiresAt = (jwt.decode(shortLived) as { exp: number }).exp * 1000;
    const s = await liveStream(user, { token: shortLived });
    const endedAt = await s.ended.then(() => Date.now());
    // exp counts whole seconds; the server ends the stream at that second.
    expect(endedAt).toBeGreaterThanOrEqual(expiresAt - 50);
    expect(endedAt).toBeLessThan(expiresAt + 3_000);
  });
});

describe('streams per user', () => {
  it('allows 5 open streams per user, then 429 with Retry-After, and another once one closes', async () => {
    const user = await signUp(server());
    const five = await Promise.all(Array.from({ length: 5 }, () => liveStream(user)));
    const sixth = await stream(user);
    expect(sixth.response.status).toBe(429);
    expect(Number(sixth.response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await problemOf(sixth.response)).toMatchObject({ type: '/problems/too-many-streams' });
    expect((await stream(await signUp(server()))).response.status).toBe(200);

    five[0]!.close();
    let status = 429;
    for (let i = 0; i < 50 && status === 429; i++) {
      const s = await stream(user);
      status = s.response.status;
      if (status === 429) await sleep(100);
    }
    expect(status).toBe(200);
  });

  it('does not count streams whose process stopped renewing them', async () => {
    const user = await signUp(server());
    const sid = (jwt.decode(user.client.tokens!.access_token) as { sid: string }).sid;
    await server().knex('task_streams').insert(
      Array.from({ length: 5 }, () => ({ id: crypto.randomUUID(), user_id: user.id, session_id: sid, lease_until: server().knex.raw("now() - interval '1 second'") })),
    );
    expect((await stream(user)).response.status).toBe(200);
  });

  it.skipIf(!onPostgres)('counts streams on every instance', async () => {
    const user = await signUp(server());
    const sibling = await server().sibling();
    try {
      await Promise.all([0, 1, 2, 3, 4].map((i) => liveStream(user, { via: i % 2 ? sibling : server() })));
      expect((await stream(user, { via: sibling })).response.status).toBe(429);
      expect((await stream(user)).response.status).toBe(429);
    } finally {
      await sibling.close();
    }
  });
});

describe('changes from elsewhere', () => {
  it('reach a stream when written with plain SQL', async () => {
    const user = await signUp(server());
    const s = await liveStream(user);
    await server().knex('tasks').insert({ owner_id: user.id, title: 'written by SQL' });
    expect(changeOf(await s.next(isChange))).toMatchObject({ type: 'upsert', task: { title: 'written by SQL' } });
  });

  it.skipIf(!onPostgres)('reach a stream on one instance when written through another', async () => {
    const user = await signUp(server());
    const sibling = await server().sibling();
    try {
      const s = await liveStream(user, { via: sibling });
      const task = await createTask(user, { title: 'written on the other instance' });
      expect(changeOf(await s.next(isChange))).toEqual({ type: 'upsert', task });
    } finally {
      await sibling.close();
    }
  });

  it.skipIf(!onPostgres)('reach a stream that registered after their transaction looked for streams, and read before it committed', async () => {
    // The process's listener is connected by then (its first connection wakes every stream anyway).
    await liveStream(await signUp(server()));
    await sleep(500);
    const user = await signUp(server());
    const { knex } = server();
    let looked!: () => void;
    let commit!: () => void;
    const written = new Promise<void>((resolve) => (looked = resolve));
    const committed = knex.transaction(async (trx) => {
      // The trigger looks for streams now, finds none, and will not notify.
      await trx('tasks').insert({ owner_id: user.id, title: 'committed after the stream registered' });
      looked();
      await new Promise<void>((resolve) => (commit = resolve));
    });
    await written;
    const opened = stream(user);
    await sleep(300);
    commit();
    await committed;
    const s = await opened;
    expect(changeOf(await s.next(isChange, 3_000))).toMatchObject({ type: 'upsert', task: { title: 'committed after the stream registered' } });
  });

  it.skipIf(!onPostgres)('hold a stream that is opening for at most 3 s when their transaction runs long: then 503 with Retry-After', async () => {
    const user = await signUp(server());
    const { knex } = server();
    let commit!: () => void;
    let written!: () => void;
    const writing = new Promise<void>((resolve) => (written = resolve));
    const committed = knex.transaction(async (trx) => {
      await trx('tasks').insert({ owner_id: user.id, title: 'a long write' });
      written();
      await new Promise<void>((resolve) => (commit = resolve));
    });
    await writing;
    const s = await stream(user);
    commit();
    await committed;
    expect(s.response.status).toBe(503);
    expect(Number(s.response.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it.skipIf(!onPostgres)('reach a stream after its process lost and regained the listening connection', async () => {
    const user = await signUp(server());
    const s = await liveStream(user);
    const { knex } = server();
    // As a restart of PostgreSQL or a dropped connection would: the listener's session ends.
    const { rows } = await knex.raw<{ rows: unknown[] }>(
      "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = ?",
      [LISTENER_NAME],
    );
    expect(rows.length).toBeGreaterThan(0);
    await sleep(100);
    const task = await createTask(user, { title: 'after the listener came back' });
    expect(changeOf(await s.next(isChange, 5_000))).toEqual({ type: 'upsert', task });
  });

  it('wake the listener of a process for owners with an open stream (NOTIFY from the tasks triggers)', async () => {
    const user = await signUp(server());
    const { knex } = server();
    const sid = (jwt.decode(user.client.tokens!.access_token) as { sid: string }).sid;
    await knex('task_streams').insert({ id: crypto.randomUUID(), user_id: user.id, session_id: sid, lease_until: knex.raw("now() + interval '1 minute'") });
    // On PostgreSQL a session of its own, never through PgBouncer.
    const { connectionString } = knex.client.config.connection as { connectionString?: string };
    const serverUrl = process.env.TEST_DATABASE_URL;
    const listenUrl = serverUrl && connectionString ? withDatabase(serverUrl, databaseNameOf(connectionString)) : undefined;
    const listener = createChangeListener({ knex, listenUrl, logger: pino({ level: 'silent' }) });
    try {
      const woken = new Promise<void>((resolve) => listener.watch(user.id, resolve));
      // Until the listener is connected, a write may go unheard: write until one is heard.
      let heard = false;
      for (let i = 0; i < 50 && !heard; i++) {
        await knex('tasks').insert({ owner_id: user.id, title: 'notifies' });
        heard = await within(woken, 200);
      }
      expect(heard).toBe(true);
    } finally {
      await listener.close();
    }
  });
});

describe('metrics', () => {
  it('count open streams and events sent', async () => {
    const user = await signUp(server());
    const s = await liveStream(user);
    await createTask(user);
    await s.next(isChange);
    const text = await (await fetch(server().metricsUrl!)).text();
    expect(Number(/^task_event_streams_open (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^task_events_sent_total\{event="upsert"\} (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^task_events_lag_seconds_count \d+/m);
  });
});

// The server as `make run` starts it, on its own embedded database: once per `make test`.
describe.skipIf(!firstRun)('graceful shutdown', () => {
  let main: ReturnType<typeof startMain> | undefined;
  let baseUrl = '';
  let dataDir = '';
  beforeAll(async () => {
    const port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), 'tm-events-'));
    main = startMain({ PORT: String(port), DATA_DIR: dataDir, BCRYPT_ROUNDS: '4', NODE_ENV: 'development' });
    baseUrl = `http://127.0.0.1:${port}`;
    // tsx-compiled sources and a fresh embedded database start slowly on a busy machine.
    expect(await answersOk(`${baseUrl}/healthz`, 90_000), main.output()).toBe(true);
  }, 120_000);
  afterAll(() => {
    main?.child.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('ends every stream with a retry hint, and the process exits 0', async () => {
    const client = (await import('../src/client/index.js')).createTaskClient({ baseUrl });
    await ok(client.POST('/auth/register', { body: { email: 'shutdown@example.com', password: 'correct-horse-battery' } }));
    const { access_token } = await client.login('shutdown@example.com', 'correct-horse-battery');
    const s = await openEvents(baseUrl, access_token);
    await s.next((e) => e.event === 'ready', 10_000);
    const exited = new Promise<number | null>((resolve) => main!.child.once('exit', resolve));
    main!.child.kill('SIGTERM');
    expect(await within(s.ended, 5_000)).toBe(true);
    expect(s.retries).toHaveLength(1);
    expect(s.retries[0]).toBeGreaterThanOrEqual(1000);
    expect(await exited).toBe(0);
  }, 30_000);
});
