import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ok, type components } from '../src/client/index.js';
import { lockIdOf } from '../src/idempotency/key.js';
import { asUser } from './support/tasks.js';
import { useServer, type TestServer } from './support/server.js';
import { signUp, type SignedUp } from './support/users.js';

type TaskCreate = components['schemas']['TaskCreate'];

const TTL_SECONDS = 3600;
const KEYS_PER_USER = 5;
// USER_CONCURRENCY_LIMIT=0: the races below are one user's requests side by side in one process,
// which the per-user bound would otherwise run one at a time.
const server = useServer({ IDEMPOTENCY_KEY_TTL_SECONDS: String(TTL_SECONDS), IDEMPOTENCY_KEYS_PER_USER: String(KEYS_PER_USER), USER_CONCURRENCY_LIMIT: '0' });
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

const create = (user: SignedUp, key: string | undefined, body: TaskCreate = { title: 'Write the report' }, via: TestServer = server()) =>
  via.client(user.client.tokens).POST('/tasks', { params: { header: key === undefined ? {} : { 'Idempotency-Key': key } }, body });
/** A create with the body exactly as written, for what the typed client would normalise. */
const createRaw = (user: SignedUp, key: string, body: string) =>
  server().fetch('/tasks', { method: 'POST', headers: asUser(user, { 'Content-Type': 'application/json', 'Idempotency-Key': key }), body });
const taskCount = async (user: SignedUp) => (await ok(user.client.GET('/tasks'))).total;
/** What a client can compare between two answers to a create. */
const answer = async (result: { response: Response; data?: unknown }) => ({
  status: result.response.status,
  body: result.data,
  location: result.response.headers.get('location'),
  etag: result.response.headers.get('etag'),
});
const replayed = (result: { response: Response }) => result.response.headers.get('idempotent-replayed');

describe('creating a task with an Idempotency-Key', () => {
  it('creates the task as usual the first time, without Idempotent-Replayed', async () => {
    const user = await signUp(server());
    const first = await create(user, randomUUID());
    expect(first.response.status).toBe(201);
    expect(replayed(first)).toBeNull();
    expect(await taskCount(user)).toBe(1);
  });

  it('answers a retry with the same key and body with the first answer again, plus Idempotent-Replayed: true, and creates nothing', async () => {
    const user = await signUp(server());
    const key = randomUUID();
    const first = await create(user, key);
    const retry = await create(user, key);
    expect(await answer(retry)).toEqual(await answer(first));
    expect(replayed(retry)).toBe('true');
    expect(await taskCount(user)).toBe(1);
  });

  it('replays the answer as it was, whatever changes the task has had since', async () => {
    const user = await signUp(server());
    const key = randomUUID();
    const first = await create(user, key);
    await ok(user.client.PUT('/tasks/{id}', { params: { path: { id: first.data!.id } }, body: { status: 'done' } }));
    const retry = await create(user, key);
    expect(await answer(retry)).toEqual(await answer(first));
  });

  it('drops the stored answer when its task is deleted: a retry with the key then creates a new task', async () => {
    const user = await signUp(server());
    const key = randomUUID();
    const first = await create(user, key, { title: 'Deleted', description: 'Nothing of this may be kept' });
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: first.data!.id } } }));
    expect(await server().knex('idempotency_keys').where({ user_id: user.id })).toEqual([]);
    const retry = await create(user, key, { title: 'Deleted', description: 'Nothing of this may be kept' });
    expect(retry.response.status).toBe(201);
    expect(replayed(retry)).toBeNull();
    expect(retry.data!.id).not.toBe(first.data!.id);
  });

  it(`keeps at most IDEMPOTENCY_KEYS_PER_USER (${KEYS_PER_USER} here) keys per user, dropping the oldest first`, async () => {
    const user = await signUp(server());
    const keys = Array.from({ length: KEYS_PER_USER + 2 }, () => randomUUID());
    for (const key of keys) expect((await create(user, key)).response.status).toBe(201);
    const kept = await server().knex('idempotency_keys').where({ user_id: user.id }).pluck('key');
    expect(kept.sort()).toEqual(keys.slice(2).sort());
    expect(replayed(await create(user, keys.at(-1)))).toBe('true');
    const dropped = await create(user, keys[0]);
    expect(dropped.response.status).toBe(201);
    expect(replayed(dropped)).toBeNull();
    expect(await taskCount(user)).toBe(KEYS_PER_USER + 3);
  });

  it("counts the keys of each user apart: one user's keys never drop another's", async () => {
    const [busy, quiet] = [await signUp(server()), await signUp(server())];
    const key = randomUUID();
    await create(quiet, key);
    for (let i = 0; i <= KEYS_PER_USER; i++) await create(busy, randomUUID());
    expect(replayed(await create(quiet, key))).toBe('true');
  });

  it('treats the bare key and the same key as an RFC 8941 string as one key', async () => {
    const user = await signUp(server());
    const bare = `${randomUUID()}"quote\\backslash`;
    const first = await create(user, bare);
    const quoted = await create(user, `"${bare.replace(/["\\]/g, '\\$&')}"`);
    expect(replayed(quoted)).toBe('true');
    expect(quoted.data).toEqual(first.data);
  });

  it('counts bodies that are equal as JSON as the same, whatever their member order and spacing', async () => {
    const user = await signUp(server());
    const key = randomUUID();
    const first = await createRaw(user, key, '{"title":"Write the report","status":"done"}');
    const retry = await createRaw(user, key, '{ "status" : "done",\n  "title": "Write the report" }');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe(await first.text());
  });

  it('refuses the same key with another body with 422 naming /header/Idempotency-Key, and creates nothing', async () => {
    const user = await signUp(server());
    const key = randomUUID();
    await create(user, key, { title: 'Write the report' });
    const other = await create(user, key, { title: 'Write another report' });
    expect(other.response.status).toBe(422);
    expect(other.error).toMatchObject({ type: '/problems/idempotency-key-reused', status: 422 });
    expect(other.error?.errors?.map((e) => e.pointer)).toEqual(['/header/Idempotency-Key']);
    expect(await taskCount(user)).toBe(1);
  });

  it('counts a field left out as different from that field sent with its default', async () => {
    const user = await signUp(server());
    const key = randomUUID();
    await create(user, key, { title: 'Write the report' });
    expect((await create(user, key, { title: 'Write the report', status: 'todo' })).response.status).toBe(422);
  });

  it('keeps keys per caller: another user with the same key gets their own task', async () => {
    const [ada, bob] = [await signUp(server()), await signUp(server())];
    const key = randomUUID();
    const hers = await create(ada, key);
    const his = await create(bob, key, { title: 'Something else entirely' });
    expect(his.response.status).toBe(201);
    expect(replayed(his)).toBeNull();
    expect(his.data!.owner_id).toBe(bob.id);
    expect(his.data!.id).not.toBe(hers.data!.id);
  });

  it('keeps nothing for a request refused by validation: a corrected retry with the same key creates the task', async () => {
    const user = await signUp(server());
    const key = randomUUID();
    expect((await create(user, key, { title: '' })).response.status).toBe(422);
    const corrected = await create(user, key, { title: 'Write the report' });
    expect(corrected.response.status).toBe(201);
    expect(replayed(corrected)).toBeNull();
    expect(await taskCount(user)).toBe(1);
  });

  it(`keeps the key for IDEMPOTENCY_KEY_TTL_SECONDS (${TTL_SECONDS} here)`, async () => {
    const user = await signUp(server());
    const key = randomUUID();
    await create(user, key);
    const row = await server().knex('idempotency_keys').where({ user_id: user.id, key }).first();
    expect(row.expires_at.getTime() - row.created_at.getTime()).toBe(TTL_SECONDS * 1000);
  });

  it('forgets a key once its time has passed: the same key then creates a new task, whatever the body', async () => {
    const user = await signUp(server());
    const key = randomUUID();
    await create(user, key);
    await server().knex('idempotency_keys').where({ user_id: user.id, key }).update({ expires_at: server().knex.raw("now() - interval '1 second'") });
    const later = await create(user, key, { title: 'A different task' });
    expect(later.response.status).toBe(201);
    expect(replayed(later)).toBeNull();
    expect(await taskCount(user)).toBe(2);
    expect(replayed(await create(user, key, { title: 'A different task' }))).toBe('true');
  });

  it.each([
    ['empty', ''],
    ['256 characters long', 'k'.repeat(256)],
    ['containing a space', 'two words'],
    ['not ASCII', 'clé'],
    ['an unterminated string', '"open'],
    ['an empty string', '""'],
    ['a string with an escape RFC 8941 does not have', '"a\\nb"'],
    ['a string with a space in it', '"two words"'],
    ['a string holding 256 characters', `"${'k'.repeat(256)}"`],
  ])('refuses a key that is %s with 422 naming /header/Idempotency-Key, and creates nothing', async (_what, key) => {
    const user = await signUp(server());
    const { response, error } = await create(user, key);
    expect(response.status).toBe(422);
    expect(error?.errors).toEqual([{ pointer: '/header/Idempotency-Key', message: expect.stringMatching(/^must be 1-255 visible ASCII characters/) }]);
    expect(await taskCount(user)).toBe(0);
  });

  it.each([
    ['255 characters', 'k'.repeat(255)],
    ['a string of 255 characters', `"${'k'.repeat(255)}"`],
    ['every visible ASCII character', Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i)).join('')],
  ])('accepts a key of %s', async (_what, key) => {
    const user = await signUp(server());
    expect((await create(user, key)).response.status).toBe(201);
  });
});

describe('a body no schema could take, with a key', () => {
  // Direct: Prism, as a proxy, cannot parse a body this deep and would answer for the server.
  const direct = useServer({}, { direct: true });

  it('is refused with 422 when nested 5,000 deep, and keeps nothing', async () => {
    const user = await signUp(direct());
    const deep = `{"title":"deep","description":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const res = await direct().fetch('/tasks', { method: 'POST', headers: asUser(user, { 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() }), body: deep });
    expect(res.status).toBe(422);
    expect(await direct().knex('idempotency_keys').count({ n: '*' }).first()).toEqual({ n: 0 });
  });
});

describe.skipIf(!onPostgres)('one key, requests at the same time (PostgreSQL only)', () => {
  const N = 10;

  it('answers 409 at once, without waiting, while a request with the key is still running', async () => {
    const user = await signUp(server());
    const key = randomUUID();
    // Holds the lock the running request would hold, on a connection of its own.
    const running = await server().knex.transaction();
    try {
      await running.raw('select pg_advisory_xact_lock(?::bigint)', [lockIdOf(user.id, key)]);
      const { response, error } = await server()
        .client(user.client.tokens)
        .POST('/tasks', { params: { header: { 'Idempotency-Key': key } }, body: { title: 'Write the report' }, signal: AbortSignal.timeout(5000) });
      expect(response.status).toBe(409);
      expect(error).toMatchObject({ type: '/problems/idempotency-key-in-use', errors: [{ pointer: '/header/Idempotency-Key' }] });
    } finally {
      await running.rollback();
    }
    expect((await create(user, key)).response.status).toBe(201);
  });

  async function race(user: SignedUp, instances: TestServer[]) {
    const key = randomUUID();
    const results = await Promise.all(Array.from({ length: N }, (_, i) => create(user, key, undefined, instances[i % instances.length])));
    const created = results.filter((r) => r.response.status === 201);
    expect(results.map((r) => r.response.status).filter((s) => s !== 201 && s !== 409)).toEqual([]);
    expect(created.filter((r) => replayed(r) === null)).toHaveLength(1);
    expect(new Set(created.map((r) => r.data!.id)).size).toBe(1);
    expect(await taskCount(user)).toBe(1);
  }

  it(`of ${N} simultaneous creates with one key, exactly one creates the task; the others get 409 or its replay`, async () => {
    await race(await signUp(server()), [server()]);
  });

  it(`keeps at most ${KEYS_PER_USER} keys for a user however many creates with new keys run at once`, async () => {
    const user = await signUp(server());
    const other = await server().sibling();
    try {
      const results = await Promise.all(Array.from({ length: 4 * KEYS_PER_USER }, (_, i) => create(user, randomUUID(), undefined, i % 2 ? other : server())));
      expect(results.map((r) => r.response.status).filter((s) => s !== 201)).toEqual([]);
    } finally {
      await other.close();
    }
    expect(await server().knex('idempotency_keys').where({ user_id: user.id }).count({ n: '*' })).toEqual([{ n: KEYS_PER_USER }]);
  });

  it('holds across two instances of the app on one database', async () => {
    const other = await server().sibling();
    try {
      await race(await signUp(server()), [server(), other]);
    } finally {
      await other.close();
    }
  });
});
