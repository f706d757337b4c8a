import { describe, expect, it } from 'vitest';
import { ok, type paths } from '../src/client/index.js';
import { asUser, createTask, insertTasks } from './support/tasks.js';
import { problemOf, useServer } from './support/server.js';
import { signUp, type SignedUp } from './support/users.js';

type TaskQuery = NonNullable<paths['/tasks']['get']['parameters']['query']>;
type Sort = NonNullable<TaskQuery['sort']>;

const server = useServer();
const SORTS: Sort[] = ['created_at', '-created_at', 'updated_at', '-updated_at', 'title', '-title'];

const list = (user: SignedUp, query: TaskQuery = {}) => user.client.GET('/tasks', { params: { query } });
const listUsers = (admin: SignedUp, query: NonNullable<paths['/users']['get']['parameters']['query']> = {}) =>
  admin.client.GET('/users', { params: { query } });
const ids = (items: { id: string }[]) => items.map((item) => item.id);
/** The same cursor with its last character changed. */
const altered = (cursor: string) => `${cursor.slice(0, -1)}${cursor.endsWith('A') ? 'B' : 'A'}`;
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();

/** Every id of a listing, page by page following next_cursor (first page by offset 0). */
async function walkByCursor(next: (cursor: string | undefined) => Promise<{ items: { id: string }[]; next_cursor: string | null }>) {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await next(cursor);
    seen.push(...ids(page.items));
    if (page.next_cursor === null) return seen;
    cursor = page.next_cursor;
  }
  throw new Error('the walk did not end within 100 pages');
}

async function walkByOffset(next: (offset: number) => Promise<{ items: { id: string }[]; total: number }>, limit: number) {
  const seen: string[] = [];
  for (let offset = 0; ; offset += limit) {
    const page = await next(offset);
    seen.push(...ids(page.items));
    if (offset + limit >= page.total) return seen;
  }
}

/** 14 tasks whose titles and timestamps tie in runs of two and three, so ties straddle page boundaries of 3. */
const tiedRows = () =>
  Array.from({ length: 14 }, (_, i) => ({
    title: `task ${String.fromCharCode(97 + Math.floor(i / 3))}`,
    created_at: at(Math.floor(i / 2)),
    updated_at: at(20 - Math.floor(i / 3)),
  }));

describe('walking tasks by cursor', () => {
  it.each(SORTS)('returns every task in %s order exactly as offset paging does, across ties on page boundaries', async (sort) => {
    const user = await signUp(server());
    await insertTasks(server(), user, tiedRows());
    const byCursor = await walkByCursor((cursor) => ok(list(user, { sort, limit: 3, cursor })));
    const byOffset = await walkByOffset((offset) => ok(list(user, { sort, limit: 3, offset })), 3);
    expect(byCursor).toHaveLength(14);
    expect(byCursor).toEqual(byOffset);
  });

  it.each(SORTS)('walks 45 tasks with identical timestamps and titles in %s order, each exactly once', async (sort) => {
    const user = await signUp(server());
    const tasks = await insertTasks(server(), user, Array.from({ length: 45 }, () => ({ created_at: at(0), updated_at: at(0) })));
    const byId = ids(tasks).sort();
    expect(await walkByCursor((cursor) => ok(list(user, { sort, limit: 7, cursor })))).toEqual(sort.startsWith('-') ? byId.reverse() : byId);
  });

  it('says where a cursor page starts in offset, keeps total, and lets limit change between pages', async () => {
    const user = await signUp(server());
    await insertTasks(server(), user, tiedRows());
    const first = await ok(list(user, { limit: 4 }));
    const second = await ok(list(user, { limit: 6, cursor: first.next_cursor! }));
    expect(second).toMatchObject({ offset: 4, limit: 6, total: 14 });
    expect(second.items).toEqual((await ok(list(user, { limit: 6, offset: 4 }))).items);
    const third = await ok(list(user, { limit: 2, cursor: second.next_cursor! }));
    expect(third).toMatchObject({ offset: 10, limit: 2, total: 14 });
  });

  it('puts next_cursor in offset pages too, so a walk can go on by cursor from any offset', async () => {
    const user = await signUp(server());
    await insertTasks(server(), user, tiedRows());
    const page = await ok(list(user, { sort: 'title', limit: 3, offset: 5 }));
    const next = await ok(list(user, { sort: 'title', limit: 3, cursor: page.next_cursor! }));
    expect(next.offset).toBe(8);
    expect(next.items).toEqual((await ok(list(user, { sort: 'title', limit: 3, offset: 8 }))).items);
  });

  it('answers next_cursor null on the last page, also when it is exactly full, and on an empty one', async () => {
    const user = await signUp(server());
    await insertTasks(server(), user, tiedRows().slice(0, 6));
    const first = await ok(list(user, { limit: 3 }));
    expect(first.next_cursor).toEqual(expect.any(String));
    const last = await ok(list(user, { limit: 3, cursor: first.next_cursor! }));
    expect(last).toMatchObject({ offset: 3, next_cursor: null });
    expect(last.items).toHaveLength(3);
    expect((await ok(list(user, { offset: 6 }))).next_cursor).toBeNull();
  });

  it('neither repeats nor skips a task that stays unchanged while others are added, changed and deleted during the walk', async () => {
    const user = await signUp(server());
    const tasks = await insertTasks(server(), user, Array.from({ length: 12 }, (_, i) => ({ title: `task ${i}`, created_at: at(10 + i) })));
    const newestFirst = ids(tasks).reverse();
    const first = await ok(list(user, { limit: 4 }));
    expect(ids(first.items)).toEqual(newestFirst.slice(0, 4));

    // Offset paging would now shift by the new task at the top and the deletions.
    await insertTasks(server(), user, [{ title: 'newer than all', created_at: at(50) }, { title: 'older than all', created_at: at(1) }]);
    const [seenAndDeleted, unseenAndDeleted, unseenAndChanged] = [newestFirst[1]!, newestFirst[6]!, newestFirst[8]!];
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: seenAndDeleted } } }));
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: unseenAndDeleted } } }));
    await ok(user.client.PUT('/tasks/{id}', { params: { path: { id: unseenAndChanged } }, body: { status: 'done' } }));

    const rest = await walkByCursor((cursor) => ok(list(user, { limit: 4, cursor: cursor ?? first.next_cursor! })));
    const seen = [...ids(first.items), ...rest];
    expect(new Set(seen).size).toBe(seen.length);
    const unchanged = newestFirst.filter((id) => id !== seenAndDeleted && id !== unseenAndDeleted);
    expect(unchanged.filter((id) => !seen.includes(id))).toEqual([]);
    expect(seen).not.toContain(unseenAndDeleted);
  });

  it('hands out cursors within the parameter limit even for the longest titles, which JSON escapes sixfold', async () => {
    const user = await signUp(server());
    const longest = '\u0001'.repeat(200);
    await insertTasks(server(), user, [{ title: longest }, { title: longest }, { title: longest }]);
    const first = await ok(list(user, { sort: 'title', limit: 1, q: longest }));
    expect(first.next_cursor!.length).toBeLessThanOrEqual(2048);
    const rest = await walkByCursor((cursor) => ok(list(user, { sort: 'title', limit: 1, q: longest, cursor: cursor ?? first.next_cursor! })));
    expect([...ids(first.items), ...rest].sort()).toEqual(ids((await ok(list(user, { limit: 3 }))).items).sort());
  });

  it('keeps to the filters of the walk', async () => {
    const [user, admin] = [await signUp(server()), await signUp(server(), { role: 'admin' })];
    await insertTasks(server(), user, tiedRows().map((row, i) => ({ ...row, status: i % 2 ? 'done' : 'todo' })));
    await insertTasks(server(), admin, tiedRows());
    const done = await walkByCursor((cursor) => ok(list(user, { status: 'done', q: 'TASK', limit: 2, cursor })));
    expect(done).toEqual(ids((await ok(list(user, { status: 'done', limit: 100 }))).items));
    expect(done).toHaveLength(7);
    const theirs = await walkByCursor((cursor) => ok(list(admin, { owner_id: user.id, limit: 5, cursor })));
    expect(theirs).toEqual(ids((await ok(list(user, { limit: 100 }))).items));
  });
});

describe('cursors that do not belong', () => {
  async function cursorOf(user: SignedUp, query: TaskQuery = {}) {
    await createTask(user);
    await createTask(user);
    return (await ok(list(user, { ...query, limit: 1 }))).next_cursor!;
  }
  const refusal = async (result: Promise<{ response: Response; error?: { errors?: { pointer: string }[] } }>) => {
    const { response, error } = await result;
    return { status: response.status, pointers: error?.errors?.map((e) => e.pointer) };
  };
  const REFUSED = { status: 422, pointers: ['/query/cursor'] };

  it('refuses a cursor together with an offset above 0 with 422 naming /query/cursor, but takes offset=0', async () => {
    const user = await signUp(server());
    const cursor = await cursorOf(user);
    expect(await refusal(list(user, { cursor, offset: 1 }))).toEqual(REFUSED);
    expect((await list(user, { cursor, offset: 0 })).response.status).toBe(200);
  });

  it.each<[string, TaskQuery]>([
    ['another sort', { q: 'Write', sort: 'title' }],
    ['a status the walk did not have', { q: 'Write', status: 'todo' }],
    ['another q', { q: 'write' }],
    ['no q where the walk had one', {}],
  ])('refuses a cursor with %s with 422 naming /query/cursor', async (_what, query) => {
    const user = await signUp(server());
    const cursor = await cursorOf(user, { q: 'Write' });
    expect((await list(user, { q: 'Write', cursor })).response.status).toBe(200);
    expect(await refusal(list(user, { ...query, cursor }))).toEqual(REFUSED);
  });

  it("refuses another caller's cursor, even an admin's, with 422 naming /query/cursor", async () => {
    const [user, other, admin] = [await signUp(server()), await signUp(server()), await signUp(server(), { role: 'admin' })];
    expect(await refusal(list(other, { cursor: await cursorOf(user) }))).toEqual(REFUSED);
    expect(await refusal(list(user, { cursor: await cursorOf(admin) }))).toEqual(REFUSED);
  });

  it('refuses a tasks cursor on the users listing', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    expect(await refusal(listUsers(admin, { cursor: await cursorOf(admin) }))).toEqual(REFUSED);
  });

  it.each([
    ['garbage', () => 'not-a-cursor'],
    ['three parts', (c: string) => `${c}.x`],
    ['a changed payload', (c: string) => `${c[0] === 'W' ? 'X' : 'W'}${c.slice(1)}`],
    ['a changed signature', altered],
    ['a character added to the signature', (c: string) => `${c}=`],
    ['no signature', (c: string) => c.split('.')[0]!],
    ['an empty string', () => ''],
    ['2049 characters', () => 'x'.repeat(2049)],
  ])('refuses %s as cursor with 422 naming /query/cursor', async (_what, alter) => {
    const user = await signUp(server());
    const cursor = alter(await cursorOf(user));
    const res = await server().fetch(`/tasks?cursor=${encodeURIComponent(cursor)}`, { headers: asUser(user) });
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors?.map((e) => e.pointer)).toEqual(['/query/cursor']);
  });

  it('refuses a repeated cursor parameter with 422 naming /query/cursor', async () => {
    const user = await signUp(server());
    const cursor = await cursorOf(user);
    const res = await server().fetch(`/tasks?cursor=${cursor}&cursor=${cursor}`, { headers: asUser(user) });
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors).toEqual([{ pointer: '/query/cursor', message: 'must be given once' }]);
  });
});

describe('walking users by cursor', () => {
  it('returns every user exactly as offset paging does, oldest first', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    for (let i = 0; i < 4; i++) await signUp(server());
    const byCursor = await walkByCursor((cursor) => ok(listUsers(admin, { limit: 3, cursor })));
    expect(byCursor).toEqual(await walkByOffset((offset) => ok(listUsers(admin, { limit: 3, offset })), 3));
    expect(byCursor.length).toBeGreaterThanOrEqual(5);
  });

  it('walks users created in the same millisecond each exactly once', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    await server().knex('users').update({ created_at: at(0) });
    const byCursor = await walkByCursor((cursor) => ok(listUsers(admin, { limit: 2, cursor })));
    expect(byCursor).toEqual([...byCursor].sort());
    expect(byCursor).toHaveLength((await ok(listUsers(admin))).total);
  });

  it('refuses an altered users cursor with 422 naming /query/cursor', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    await signUp(server());
    const cursor = (await ok(listUsers(admin, { limit: 1 }))).next_cursor!;
    const { response, error } = await listUsers(admin, { cursor: altered(cursor) });
    expect(response.status).toBe(422);
    expect(error?.errors?.map((e) => e.pointer)).toEqual(['/query/cursor']);
  });
});
