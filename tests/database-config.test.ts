import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { useServer } from './support/server.js';
import { createTask } from './support/tasks.js';
import { signUp } from './support/users.js';

// Pools and statement timeouts are PostgreSQL's (PGlite has one connection and no timer); on
// `make test-pgbouncer` these run through PgBouncer in transaction pooling mode too.
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

/**
 * Holds a connection of `db`'s pool in a transaction, after running `first` in it (a lock, say),
 * until the returned function is called.
 */
async function holdConnection(db: Knex, first = (trx: Knex.Transaction): Promise<unknown> => trx.raw('select 1')): Promise<() => Promise<void>> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const done = db.transaction(async (trx) => {
    await first(trx);
    started();
    await held;
  });
  await running;
  return async () => {
    release();
    await done;
  };
}

describe.skipIf(!onPostgres)('DATABASE_POOL_MAX', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 2 });
  });
  afterAll(() => db?.destroy());

  it('opens at most that many connections: a query waits while all are taken', async () => {
    const releases = [await holdConnection(db.knex), await holdConnection(db.knex)];
    let answered = false;
    const third = db.knex.raw('select 1').then(() => (answered = true));
    await sleep(300);
    expect(answered).toBe(false);
    await releases[0]!();
    await third;
    expect(answered).toBe(true);
    await releases[1]!();
  });
});

describe.skipIf(!onPostgres)('DATABASE_STATEMENT_TIMEOUT_MS', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ statementTimeoutMs: 200 });
  });
  afterAll(() => db?.destroy());

  it('cuts off a longer statement outside a transaction', async () => {
    const started = Date.now();
    await expect(db.knex.raw('select pg_sleep(5)')).rejects.toMatchObject({ code: '57014' });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('cuts off a longer statement inside a transaction, and the pool goes on working', async () => {
    await expect(db.knex.transaction(async (trx) => {
      await trx.raw('select 1');
      await trx.raw('select pg_sleep(5)');
    })).rejects.toMatchObject({ code: '57014' });
    expect((await db.knex.raw('select 1 as one')).rows).toEqual([{ one: 1 }]);
  });

  it('lets shorter statements finish', async () => {
    expect((await db.knex.raw('select pg_sleep(0.05), 2 as two')).rows).toMatchObject([{ two: 2 }]);
  });

  it('is unset by default', async () => {
    const plain = await createTestDatabase();
    try {
      expect((await plain.knex.raw('select pg_sleep(0.4), 3 as three')).rows).toMatchObject([{ three: 3 }]);
    } finally {
      await plain.destroy();
    }
  });
});

describe.skipIf(!onPostgres)('a request whose statement outlasts DATABASE_STATEMENT_TIMEOUT_MS', () => {
  const server = useServer({ DATABASE_STATEMENT_TIMEOUT_MS: '300' });

  it('answers 503 problem+json with Retry-After, and the task is unchanged', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    // Another transaction holds the row's lock; the update waits on it until the timeout.
    const release = await holdConnection(server().knex, (trx) => trx('tasks').where('id', task.id).forUpdate());
    try {
      const { response, error } = await user.client.PUT('/tasks/{id}', { params: { path: { id: task.id } }, body: { title: 'renamed' } });
      expect(response.status).toBe(503);
      expect(error).toMatchObject({ type: '/problems/service-unavailable', status: 503 });
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      await release();
    }
    expect(await server().knex('tasks').where('id', task.id).first()).toMatchObject({ title: task.title });
  });
});

// PgBouncer in transaction pooling cannot keep them: that run turns them off (tests/support/database.ts).
describe.skipIf(!onPostgres || Boolean(process.env.TEST_PGBOUNCER))('DATABASE_PREPARED_STATEMENTS', () => {
  const preparedNames = async (db: TestDatabase) =>
    (await db.knex.raw<{ rows: { name: string }[] }>('select name from pg_prepared_statements')).rows.map((r) => r.name);

  it('prepares a named statement once on its connection, under its name and a digest of its text', async () => {
    const db = await createTestDatabase({ poolMax: 1, preparedStatements: true });
    try {
      for (const n of [1, 2]) expect((await db.knex.raw('select ?::int as n', [n]).options({ name: 'probe' })).rows).toEqual([{ n }]);
      await db.knex.raw('select ?::text as t', ['other text, same name']).options({ name: 'probe' });
      expect((await preparedNames(db)).filter((name) => name.startsWith('probe-'))).toHaveLength(2);
    } finally {
      await db.destroy();
    }
  });

  it('sends named statements unnamed when off', async () => {
    const db = await createTestDatabase({ poolMax: 1, preparedStatements: false });
    try {
      expect((await db.knex.raw('select ?::int as n', [1]).options({ name: 'probe' })).rows).toEqual([{ n: 1 }]);
      expect(await preparedNames(db)).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it('prepares a statement again when a migration changed the columns it returns', async () => {
    const db = await createTestDatabase({ poolMax: 1, preparedStatements: true });
    try {
      await db.knex.raw('create table probe (a int); insert into probe values (1)');
      const read = () => db.knex.raw('select * from probe').options({ name: 'probe' });
      expect((await read()).rows).toEqual([{ a: 1 }]);
      await db.knex.raw('alter table probe add column b int default 2');
      expect((await read()).rows).toEqual([{ a: 1, b: 2 }]);
    } finally {
      await db.destroy();
    }
  });
});
