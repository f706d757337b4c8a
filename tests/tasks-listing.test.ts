import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ok, type paths } from '../src/client/index.js';
import { asUser, createTask, insertTasks as insertRows } from './support/tasks.js';
import { problemOf, useServer } from './support/server.js';
import { signUp, type SignedUp } from './support/users.js';

type ListQuery = NonNullable<paths['/tasks']['get']['parameters']['query']>;
type Sort = NonNullable<ListQuery['sort']>;

const server = useServer();
const SORTS: Sort[] = ['created_at', '-created_at', 'updated_at', '-updated_at', 'title', '-title'];

const list = (user: SignedUp, query: ListQuery = {}) => user.client.GET('/tasks', { params: { query } });
const listRaw = (user: SignedUp, search: string) => server().fetch(`/tasks?${search}`, { headers: asUser(user) });
const ids = (tasks: { id: string }[]) => tasks.map((t) => t.id);
// Code-unit order, which is how PostgreSQL orders uuids and these ASCII titles under any collation.
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const insertTasks = (owner: SignedUp, rows: Parameters<typeof insertRows>[2]) => insertRows(server(), owner, rows);

describe('listing tasks', () => {
  it("gives a user their own tasks only, newest first, with the default page", async () => {
    const [user, other] = [await signUp(server()), await signUp(server())];
    const [older, newer] = await insertTasks(user, [{ created_at: '2026-01-01T10:00:00.000Z' }, { created_at: '2026-01-02T10:00:00.000Z' }]);
    await createTask(other);
    expect(await ok(list(user))).toEqual({ items: [newer, older], total: 2, limit: 20, offset: 0, next_cursor: null });
  });

  it("gives an admin every owner's tasks", async () => {
    const [a, b, admin] = [await signUp(server()), await signUp(server()), await signUp(server(), { role: 'admin' })];
    const marker = randomUUID();
    const tasks = [await createTask(a, { title: `${marker} a` }), await createTask(b, { title: `${marker} b` })];
    const page = await ok(list(admin, { q: marker }));
    expect(ids(page.items).sort()).toEqual(ids(tasks).sort());
  });

  it('lets an admin filter by owner_id', async () => {
    const [a, b, admin] = [await signUp(server()), await signUp(server()), await signUp(server(), { role: 'admin' })];
    const mine = await createTask(a);
    await createTask(b);
    expect(await ok(list(admin, { owner_id: a.id }))).toMatchObject({ items: [mine], total: 1 });
  });

  it('refuses owner_id from a user with 403, even their own id', async () => {
    const user = await signUp(server());
    const { response, error } = await list(user, { owner_id: user.id });
    expect(response.status).toBe(403);
    expect(error?.type).toBe('/problems/forbidden');
  });

  it('filters by status', async () => {
    const user = await signUp(server());
    await createTask(user, { status: 'todo' });
    const done = await createTask(user, { status: 'done' });
    expect(await ok(list(user, { status: 'done' }))).toMatchObject({ items: [done], total: 1 });
  });

  it('counts every match in total while returning one page', async () => {
    const user = await signUp(server());
    for (let i = 0; i < 5; i++) await createTask(user);
    expect(await ok(list(user, { limit: 2, offset: 2 }))).toMatchObject({ total: 5, limit: 2, offset: 2, items: [{}, {}] });
  });

  it('returns no items but the total for an offset past the end', async () => {
    const user = await signUp(server());
    await createTask(user);
    expect(await ok(list(user, { offset: 10 }))).toEqual({ items: [], total: 1, limit: 20, offset: 10, next_cursor: null });
  });
});

describe('searching titles with q', () => {
  it('matches a substring whatever its case', async () => {
    const user = await signUp(server());
    const report = await createTask(user, { title: 'Quarterly REPORT for finance' });
    await createTask(user, { title: 'Something else' });
    expect(ids((await ok(list(user, { q: 'rePort' }))).items)).toEqual([report.id]);
  });

  it.each([
    ['%', '100% done', '100 done'],
    ['_', 'snake_case', 'snakecase'],
    ['\\', 'back\\slash', 'backslash'],
  ])('treats %s literally', async (q, matching, lookalike) => {
    const user = await signUp(server());
    const hit = await createTask(user, { title: matching });
    await createTask(user, { title: lookalike });
    expect(await ok(list(user, { q }))).toMatchObject({ items: [{ id: hit.id }], total: 1 });
  });
});

describe('sorting', () => {
  it.each(SORTS)('orders by %s, ties broken by id', async (sort) => {
    const user = await signUp(server());
    const at = (minute: number) => `2026-01-01T10:0${minute}:00.000Z`;
    // Each column puts the rows in a different order; two rows tie on every column.
    const tasks = await insertTasks(user, [
      { title: 'task c', created_at: at(1), updated_at: at(5) },
      { title: 'task a', created_at: at(2), updated_at: at(3) },
      { title: 'task e', created_at: at(3), updated_at: at(1) },
      { title: 'task b', created_at: at(4), updated_at: at(4) },
      { title: 'task b', created_at: at(4), updated_at: at(4) },
    ]);
    const column = sort.replace(/^-/, '') as 'created_at' | 'updated_at' | 'title';
    const expected = [...tasks].sort((x, y) => compare(x[column], y[column]) || compare(x.id, y.id));
    if (sort.startsWith('-')) expected.reverse();
    expect(ids((await ok(list(user, { sort }))).items)).toEqual(ids(expected));
  });

  it.each(SORTS)('walks 45 tasks with identical timestamps and titles in %s order, each exactly once', async (sort) => {
    const user = await signUp(server());
    const moment = '2026-01-01T10:00:00.000Z';
    const tasks = await insertTasks(user, Array.from({ length: 45 }, () => ({ created_at: moment, updated_at: moment })));
    const seen: string[] = [];
    for (let offset = 0; offset < 45; offset += 7) {
      const page = await ok(list(user, { sort, limit: 7, offset }));
      expect(page.total).toBe(45);
      seen.push(...ids(page.items));
    }
    const byId = ids(tasks).sort();
    expect(seen).toEqual(sort.startsWith('-') ? byId.reverse() : byId);
  });
});

describe('listing parameters out of bounds', () => {
  it.each(['limit=0', 'limit=101', 'limit=abc', 'limit=1.5', 'limit=1&limit=2'])('refuses %s with 422 naming /query/limit', async (search) => {
    const user = await signUp(server());
    const res = await listRaw(user, search);
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors?.map((e) => e.pointer)).toEqual(['/query/limit']);
  });

  it.each([1, 100])('accepts limit=%i', async (limit) => {
    const user = await signUp(server());
    expect((await ok(list(user, { limit }))).limit).toBe(limit);
  });

  it.each(['offset=-1', 'offset=2147483648', 'offset=x'])('refuses %s with 422 naming /query/offset', async (search) => {
    const user = await signUp(server());
    const res = await listRaw(user, search);
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors?.map((e) => e.pointer)).toEqual(['/query/offset']);
  });

  it('refuses a status outside the enum with 422 naming /query/status', async () => {
    const user = await signUp(server());
    const res = await listRaw(user, 'status=blocked');
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors).toEqual([{ pointer: '/query/status', message: 'must be one of: todo, in_progress, done' }]);
  });

  it.each(['sort=id', 'sort=-owner_id', 'sort=created_at,title', 'sort=%2Bcreated_at'])('refuses %s with 422 naming /query/sort', async (search) => {
    const user = await signUp(server());
    const res = await listRaw(user, search);
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors?.map((e) => e.pointer)).toEqual(['/query/sort']);
  });

  it('refuses an unknown parameter with 422 naming it', async () => {
    const user = await signUp(server());
    const res = await listRaw(user, 'page=2');
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors).toEqual([{ pointer: '/query/page', message: 'is not allowed' }]);
  });

  it.each([
    ['over 200 characters', 'x'.repeat(201)],
    ['empty', ''],
    ['containing NUL', 'a\u0000b'],
  ])('refuses a q %s with 422 naming /query/q', async (_, q) => {
    const user = await signUp(server());
    const res = await listRaw(user, `q=${encodeURIComponent(q)}`);
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors?.map((e) => e.pointer)).toEqual(['/query/q']);
  });

  it('accepts a q of exactly 200 characters', async () => {
    const user = await signUp(server());
    expect((await list(user, { q: 'x'.repeat(200) })).response.status).toBe(200);
  });

  it('refuses an owner_id that is not a uuid with 422, for an admin', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    const { response } = await list(admin, { owner_id: 'nobody' });
    expect(response.status).toBe(422);
  });
});
