import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { databaseNameOf, withDatabase } from '../src/db/create-database.js';
import { problemOf, useServer, type TestServer } from './support/server.js';
import { asUser, createTask } from './support/tasks.js';
import { signUp, type SignedUp } from './support/users.js';

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const throughPgBouncer = process.env.TEST_PGBOUNCER === '1';
// A title the commit-time trigger below waits on; no other test uses it.
const WAITS_AT_COMMIT = 'This task waits at COMMIT';
const COMMIT_LOCK = 22_0003;

/**
 * The app's sessions on the database, as PostgreSQL lists them: through PgBouncer these are
 * PgBouncer's server connections. The change listener's session is left alone (it reconnects on
 * its own, and is not what these tests are about).
 */
const APP_SESSIONS = `select pid from pg_stat_activity
  where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'
    and query !~* '^\\s*listen' and application_name <> 'test-holder'`;

describe.skipIf(!onPostgres)('losing the database at any moment answers 503, never 500 (PostgreSQL only)', () => {
  // A pool of two, so that a dead connection handed out again would show within a few requests.
  const server = useServer({ DATABASE_POOL_MAX: '2' });
  let admin: pg.Client;
  /** A session of the test's that holds the locks a request is made to wait on. */
  let holder: pg.Client;
  let user: SignedUp;

  const connect = async (applicationName: string) => {
    const client = new pg.Client({ connectionString: server().directUrl, application_name: applicationName });
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    admin = await connect('test-admin');
    holder = await connect('test-holder');
    user = await signUp(server());
    // Deferred, so it runs during COMMIT; it waits for COMMIT_LOCK, which the holder takes.
    await admin.query(`create function wait_at_commit() returns trigger language plpgsql as
      $$ begin perform pg_advisory_xact_lock(${COMMIT_LOCK}); return null; end $$`);
    await admin.query(`create constraint trigger tasks_wait_at_commit after insert on tasks
      deferrable initially deferred for each row when (new.title = '${WAITS_AT_COMMIT}') execute function wait_at_commit()`);
  });
  afterAll(async () => {
    await holder?.end();
    await admin?.end();
  });

  /** Ends the app's session that matches `condition` as soon as there is one; its pid. */
  async function terminateWhen(condition: string): Promise<number> {
    for (let i = 0; i < 500; i++) {
      const { rows } = await admin.query<{ pid: number }>(`select pid from (${APP_SESSIONS}) app join pg_stat_activity using (pid) where ${condition}`);
      if (rows[0]) {
        await admin.query('select pg_terminate_backend($1)', [rows[0].pid]);
        return rows[0].pid;
      }
      await sleep(10);
    }
    throw new Error(`no session of the app came to: ${condition}`);
  }

  /** Ends every session the app holds, and waits until PostgreSQL has let them go. */
  async function terminateAppSessions(): Promise<void> {
    await admin.query(`select pg_terminate_backend(pid) from (${APP_SESSIONS}) app`);
    for (let i = 0; i < 500 && (await admin.query(APP_SESSIONS)).rowCount! > 0; i++) await sleep(10);
  }

  async function expectUnavailable(response: Response) {
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await problemOf(response)).toMatchObject({ type: '/problems/service-unavailable', status: 503 });
  }

  /** More requests than the pool has connections, each answered: none was handed a dead one. */
  async function expectServing(s: TestServer) {
    for (let i = 0; i < 6; i++) {
      const { response } = await user.client.GET('/tasks');
      expect(response.status).toBe(200);
    }
    expect((await s.fetch('/readyz')).status).toBe(200);
  }

  const createWithKey = (key: string, title = 'Survives a lost connection') =>
    server().fetch('/tasks', {
      method: 'POST',
      headers: asUser(user, { 'Content-Type': 'application/json', 'Idempotency-Key': key }),
      body: JSON.stringify({ title }),
    });

  it('when the sessions idle in the pool are ended, the next requests get fresh connections and 200', async () => {
    await expectServing(server());
    await terminateAppSessions();
    await expectServing(server());
  });

  it.skipIf(throughPgBouncer)('when no connection can be made at acquire, the request gets 503, and 200 once the database is back', async () => {
    const name = pg.escapeIdentifier(databaseNameOf(server().directUrl!));
    // From another database: PostgreSQL will not close the one the statement runs in.
    const maintenance = new pg.Client({ connectionString: withDatabase(server().directUrl!, 'postgres') });
    await maintenance.connect();
    await maintenance.query(`alter database ${name} with allow_connections false`);
    try {
      await terminateAppSessions();
      await expectUnavailable(await server().fetch('/tasks', { headers: asUser(user) }));
      // A write also passes the per-user write limit, whose store has a pool of its own.
      await expectUnavailable(await createWithKey(randomUUID()));
    } finally {
      await maintenance.query(`alter database ${name} with allow_connections true`);
      await maintenance.end();
    }
    await expectServing(server());
  });

  it('when the session is ended mid-query, the request gets 503', async () => {
    const task = await createTask(user);
    await holder.query('begin');
    await holder.query('select 1 from tasks where id = $1 for update', [task.id]);
    try {
      const pending = server().fetch(`/tasks/${task.id}`, {
        method: 'PUT',
        headers: asUser(user, { 'Content-Type': 'application/json' }),
        body: JSON.stringify({ title: 'Never written' }),
      });
      await terminateWhen(`wait_event_type = 'Lock' and query ~* '^update'`);
      await expectUnavailable(await pending);
    } finally {
      await holder.query('rollback');
    }
    await expectServing(server());
    expect((await user.client.GET('/tasks/{id}', { params: { path: { id: task.id } } })).data?.title).toBe(task.title);
  });

  it('when the session of a transaction is ended, so that its ROLLBACK meets a dead connection, the request gets 503 and keeps nothing', async () => {
    const key = randomUUID();
    // The task's insert checks its owner's row, which the holder has locked.
    await holder.query('begin');
    await holder.query('select 1 from users where id = $1 for update', [user.id]);
    try {
      const pending = createWithKey(key);
      await terminateWhen(`wait_event_type = 'Lock' and query ~* '^insert into "tasks"'`);
      await expectUnavailable(await pending);
    } finally {
      await holder.query('rollback');
    }
    await expectServing(server());
    const retry = await createWithKey(key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
  });

  it('when the session is ended during COMMIT, the request gets 503 and nothing was created', async () => {
    const key = randomUUID();
    await holder.query('select pg_advisory_lock($1)', [COMMIT_LOCK]);
    try {
      const pending = createWithKey(key, WAITS_AT_COMMIT);
      await terminateWhen(`wait_event_type = 'Lock' and query ~* '^commit'`);
      await expectUnavailable(await pending);
    } finally {
      await holder.query('select pg_advisory_unlock($1)', [COMMIT_LOCK]);
    }
    await expectServing(server());
    expect(await server().knex('tasks').where({ owner_id: user.id, title: WAITS_AT_COMMIT }).count({ n: '*' })).toEqual([{ n: 0 }]);
    expect((await createWithKey(key, WAITS_AT_COMMIT)).status).toBe(201);
  });

  it.runIf(throughPgBouncer)('when PgBouncer drops the pooled connections, the next requests get fresh ones and 200', async () => {
    await expectServing(server());
    const console = new pg.Client({ connectionString: withDatabase(inject('pgbouncerUrl')!, 'pgbouncer') });
    await console.connect();
    try {
      const name = pg.escapeIdentifier(databaseNameOf(server().directUrl!));
      await console.query(`kill ${name}`);
      await console.query(`resume ${name}`);
    } finally {
      await console.end();
    }
    await expectServing(server());
  });
});
