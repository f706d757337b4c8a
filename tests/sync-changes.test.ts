import { describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { pruneExpired } from '../src/auth/pruning.js';
import { createPositionTokens } from '../src/sync/position.js';
import { asUser, createTask } from './support/tasks.js';
import { problemOf, useServer } from './support/server.js';
import { Replica, tasksInDatabase, type ChangePage } from './support/sync.js';
import { signUp, type SignedUp } from './support/users.js';

const SECRET_KEY = 'a test secret key for signing sync positions';
const RETENTION_SECONDS = 3600;
const server = useServer({ SECRET_KEY, SYNC_RETENTION_SECONDS: String(RETENTION_SECONDS) });
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

const changes = (user: SignedUp, query: { since?: string; limit?: number } = {}) => ok(user.client.GET('/tasks/changes', { params: { query } }));
const rawChanges = (user: SignedUp, query: string) => server().fetch(`/tasks/changes?${query}`, { headers: asUser(user) });
const ids = (page: ChangePage) => page.changes.map((c) => (c.type === 'upsert' ? c.task.id : c.id));
/** A position signed as the server signs them, taken `ageSeconds` ago. */
const positionToken = (user: SignedUp, ageSeconds: number) =>
  createPositionTokens(SECRET_KEY).encode(user.id, { kind: 'since', snapshot: { text: '1:1:', at: Date.now() - ageSeconds * 1000 } });

describe('GET /tasks/changes from nothing', () => {
  it('gives every current task once, as upserts, and no deletions', async () => {
    const user = await signUp(server());
    const tasks = await Promise.all([1, 2, 3].map((i) => createTask(user, { title: `Task ${i}` })));
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: tasks[0]!.id } } }));
    const page = await changes(user);
    expect(page.has_more).toBe(false);
    expect(page.changes.every((c) => c.type === 'upsert')).toBe(true);
    expect(ids(page).sort()).toEqual([tasks[1]!.id, tasks[2]!.id].sort());
  });

  it('pages by limit with has_more, every task exactly once', async () => {
    const user = await signUp(server());
    for (let i = 0; i < 7; i++) await createTask(user, { title: `Task ${i}` });
    const replica = new Replica();
    const pages = await replica.catchUp(user.client, 3);
    expect(pages.map((p) => [p.changes.length, p.has_more])).toEqual([[3, true], [3, true], [1, false]]);
    expect(pages.flatMap(ids)).toHaveLength(7);
    expect(replica.sorted()).toEqual(await tasksInDatabase(server(), user.id));
  });

  it('answers an empty feed with no changes, has_more false and a next_since', async () => {
    const user = await signUp(server());
    const page = await changes(user);
    expect(page).toEqual({ changes: [], has_more: false, next_since: expect.any(String) });
  });
});

describe('GET /tasks/changes with since', () => {
  it('gives what was created, updated and deleted since, deletions with their id and time', async () => {
    const user = await signUp(server());
    const [kept, changed, deleted] = await Promise.all(['kept', 'changed', 'deleted'].map((title) => createTask(user, { title })));
    const replica = new Replica();
    await replica.catchUp(user.client);

    const created = await createTask(user, { title: 'created' });
    const updated = await ok(user.client.PUT('/tasks/{id}', { params: { path: { id: changed!.id } }, body: { status: 'done' } }));
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: deleted!.id } } }));
    const page = await changes(user, { since: replica.since });

    expect(page.has_more).toBe(false);
    expect(page.changes).toHaveLength(3);
    expect(page.changes).toEqual(
      expect.arrayContaining([
        { type: 'upsert', task: created },
        { type: 'upsert', task: updated },
        { type: 'delete', id: deleted!.id, deleted_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) },
      ]),
    );
    expect(ids(page)).not.toContain(kept!.id);
  });

  it('gives a task changed several times once, in its latest state', async () => {
    const user = await signUp(server());
    const since = (await changes(user)).next_since;
    const task = await createTask(user, { title: 'first' });
    await ok(user.client.PUT('/tasks/{id}', { params: { path: { id: task.id } }, body: { title: 'second' } }));
    const latest = await ok(user.client.PUT('/tasks/{id}', { params: { path: { id: task.id } }, body: { title: 'third' } }));
    expect((await changes(user, { since })).changes).toEqual([{ type: 'upsert', task: latest }]);
  });

  it('gives nothing when nothing changed, with has_more false', async () => {
    const user = await signUp(server());
    await createTask(user);
    const { next_since } = await changes(user);
    expect(await changes(user, { since: next_since })).toMatchObject({ changes: [], has_more: false });
  });

  it("shows only the caller's own tasks, for admins too", async () => {
    const user = await signUp(server());
    const admin = await signUp(server(), { role: 'admin' });
    const since = (await changes(admin)).next_since;
    await createTask(user, { title: "the user's" });
    const own = await createTask(admin, { title: "the admin's" });
    expect(ids(await changes(admin, { since }))).toEqual([own.id]);
  });

  it('keeps a replica equal to the database across pages while tasks change between them', async () => {
    const user = await signUp(server());
    const tasks = [];
    for (let i = 0; i < 6; i++) tasks.push(await createTask(user, { title: `Task ${i}` }));
    const replica = new Replica();
    const first = await changes(user, { limit: 2 });
    replica.apply(first.changes);
    replica.since = first.next_since;
    // Between pages: a task already sent changes, one not yet sent is deleted, one is added.
    await ok(user.client.PUT('/tasks/{id}', { params: { path: { id: ids(first)[0]! } }, body: { status: 'done' } }));
    const unsent = tasks.find((t) => !ids(first).includes(t.id))!;
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: unsent.id } } }));
    await createTask(user, { title: 'added between pages' });
    await replica.catchUp(user.client, 2);
    expect(replica.sorted()).toEqual(await tasksInDatabase(server(), user.id));
  });
});

describe('changes made outside the API', () => {
  it('are in the feed: SQL writes, writes inside a savepoint, and tasks moved to another owner', async () => {
    const from = await signUp(server());
    const to = await signUp(server());
    const { knex } = server();
    const moved = await createTask(from, { title: 'moved' });
    const stays = await createTask(from, { title: 'stays' });
    const [fromSince, toSince] = [(await changes(from)).next_since, (await changes(to)).next_since];

    await knex.transaction(async (trx) => {
      await trx.transaction(async (savepoint) => {
        await savepoint('tasks').where('id', stays.id).update({ title: 'changed in a savepoint' });
      });
      await trx('tasks').insert({ owner_id: from.id, title: 'inserted by SQL' });
    });
    await knex('tasks').where('id', moved.id).update({ owner_id: to.id });

    const fromPage = await changes(from, { since: fromSince });
    expect(fromPage.changes).toEqual(
      expect.arrayContaining([
        { type: 'delete', id: moved.id, deleted_at: expect.any(String) },
        expect.objectContaining({ type: 'upsert', task: expect.objectContaining({ id: stays.id, title: 'changed in a savepoint' }) }),
        expect.objectContaining({ type: 'upsert', task: expect.objectContaining({ title: 'inserted by SQL' }) }),
      ]),
    );
    expect(fromPage.changes).toHaveLength(3);
    expect((await changes(to, { since: toSince })).changes).toEqual([
      expect.objectContaining({ type: 'upsert', task: expect.objectContaining({ id: moved.id, owner_id: to.id }) }),
    ]);
  });

  it('gives a task deleted and then recreated with the same id once, as an upsert', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { title: 'deleted, then back' });
    const since = (await changes(user)).next_since;
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: task.id } } }));
    await server().knex('tasks').insert({ id: task.id, owner_id: user.id, title: 'back again' });
    expect((await changes(user, { since })).changes).toEqual([
      expect.objectContaining({ type: 'upsert', task: expect.objectContaining({ id: task.id, title: 'back again' }) }),
    ]);
  });

  it.skipIf(!onPostgres)('keeps a recreated task when its insert began before the delete that came first committed', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { title: 'deleted, then back' });
    const replica = new Replica();
    await replica.catchUp(user.client);
    const { knex } = server();
    // The recreating transaction takes its id first (by another write), so its id is below the delete's.
    await knex.transaction(async (trx) => {
      await trx('tasks').insert({ owner_id: user.id, title: 'takes the transaction id' });
      await knex('tasks').where('id', task.id).delete();
      await trx('tasks').insert({ id: task.id, owner_id: user.id, title: 'back again' });
    });
    await replica.catchUp(user.client);
    expect(replica.sorted()).toEqual(await tasksInDatabase(server(), user.id));
  });

  it('counts tasks from before the feed (no stamp) in a sync from nothing, and never as a change since', async () => {
    const user = await signUp(server());
    const old = await createTask(user, { title: 'from before the feed' });
    const { knex } = server();
    // As the migration leaves rows written before it: stamped 0, written with the triggers off.
    await knex.transaction(async (trx) => {
      await trx.raw('set local session_replication_role = replica');
      await trx('tasks').where('id', old.id).update({ change_xid: '0' });
    });
    const since = (await changes(user)).next_since;
    expect(ids(await changes(user))).toEqual([old.id]);
    expect((await changes(user, { since })).changes).toEqual([]);
  });
});

describe('bad since and limit', () => {
  it.each([
    ['garbage', 'not-a-position'],
    ['an altered position', 'ALTERED'],
    ["another user's position", 'OTHER'],
  ])('refuses %s with 422 naming /query/since', async (_name, kind) => {
    const user = await signUp(server());
    const other = await signUp(server());
    const own = (await changes(user)).next_since;
    const since = kind === 'ALTERED' ? `${own.slice(0, -1)}${own.endsWith('A') ? 'B' : 'A'}` : kind === 'OTHER' ? (await changes(other)).next_since : kind;
    const res = await rawChanges(user, `since=${encodeURIComponent(since)}`);
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors).toEqual([{ pointer: '/query/since', message: expect.any(String) }]);
  });

  it.each(['0', '1001', 'ten'])('refuses limit=%s with 422 naming /query/limit', async (limit) => {
    const user = await signUp(server());
    const res = await rawChanges(user, `limit=${limit}`);
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors?.map((e) => e.pointer)).toEqual(['/query/limit']);
  });

  it('answers a position older than SYNC_RETENTION_SECONDS with 410 problem+json', async () => {
    const user = await signUp(server());
    const res = await rawChanges(user, `since=${positionToken(user, RETENTION_SECONDS + 60)}`);
    expect(res.status).toBe(410);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await problemOf(res)).toMatchObject({ type: '/problems/since-expired', status: 410 });
  });

  it('accepts a position just inside SYNC_RETENTION_SECONDS', async () => {
    const user = await signUp(server());
    expect((await rawChanges(user, `since=${positionToken(user, RETENTION_SECONDS - 60)}`)).status).toBe(200);
  });

  it('needs a bearer token', async () => {
    expect((await server().fetch('/tasks/changes')).status).toBe(401);
  });
});

describe('pruning tombstones', () => {
  it('deletes tombstones older than the retention and a day, and keeps the others', async () => {
    const user = await signUp(server());
    const [old, recent] = await Promise.all([createTask(user), createTask(user)]);
    for (const task of [old, recent]) await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: task!.id } } }));
    const { knex } = server();
    await knex('task_tombstones').where('task_id', old!.id).update({ deleted_at: knex.raw("now() - make_interval(secs => ?) - interval '1 minute'", [RETENTION_SECONDS + 86_400]) });
    expect(await pruneExpired(knex, { syncRetentionSeconds: RETENTION_SECONDS })).toMatchObject({ tombstones: 1 });
    expect(await knex('task_tombstones').where('owner_id', user.id).pluck('task_id')).toEqual([recent!.id]);
  });
});
