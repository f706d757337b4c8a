// Contract 1.2, "Tasks a team can plan with": due dates, priority, labels, completion time, the
// filters and sorts over them, and GET /labels.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ok, type components, type paths } from '../src/client/index.js';
import { createCursors } from '../src/paging/cursor.js';
import { asUser, createTask, insertTasks, PRIORITIES } from './support/tasks.js';
import { problemOf, useServer } from './support/server.js';
import { signUp, type SignedUp } from './support/users.js';

type TaskUpdate = components['schemas']['TaskUpdate'];
type ListQuery = NonNullable<paths['/tasks']['get']['parameters']['query']>;

// Known, so that a test can make the cursor 1.1 handed out.
const SECRET_KEY = 'planning-tests-secret-key-of-32-characters';
// USER_CONCURRENCY_LIMIT=0: the races below are one user's requests side by side in one process,
// which the per-user bound would otherwise run one at a time.
const server = useServer({ SECRET_KEY, USER_CONCURRENCY_LIMIT: '0' });
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

const list = (user: SignedUp, query: ListQuery = {}) => user.client.GET('/tasks', { params: { query } });
const listRaw = (user: SignedUp, search: string) => server().fetch(`/tasks?${search}`, { headers: asUser(user) });
const putTask = (user: SignedUp, id: string, body: TaskUpdate) => user.client.PUT('/tasks/{id}', { params: { path: { id } }, body });
const getTask = (user: SignedUp, id: string) => ok(user.client.GET('/tasks/{id}', { params: { path: { id } } }));
const send = (user: SignedUp, method: string, path: string, body: unknown) =>
  server().fetch(path, { method, headers: asUser(user, { 'Content-Type': 'application/json' }), body: JSON.stringify(body) });
const errorsOf = async (res: Response) => (await problemOf(res)).errors;
const ids = (tasks: { id: string }[]) => tasks.map((t) => t.id);
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

describe('the planning fields of a task', () => {
  it('are null, none, empty and null on a task created without them', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    expect(task).toMatchObject({ due_at: null, priority: 'none', labels: [], completed_at: null });
    expect(await getTask(user, task.id)).toEqual(task);
  });

  it('keep a due_at sent with any offset, answered in UTC with milliseconds', async () => {
    const user = await signUp(server());
    for (const [sent, answered] of [
      ['2026-12-10T18:30:00+01:00', '2026-12-10T17:30:00.000Z'],
      ['2026-12-10T08:00:00.5-05:30', '2026-12-10T13:30:00.500Z'],
      ['2026-12-10 17:30:00.123456z', '2026-12-10T17:30:00.123Z'],
      ['2026-12-31T23:59:60Z', '2027-01-01T00:00:00.000Z'],
    ]) {
      const task = await createTask(user, { due_at: sent });
      expect([sent, task.due_at]).toEqual([sent, answered]);
      expect((await getTask(user, task.id)).due_at).toBe(answered);
    }
  });

  it('keep the labels in the order and spelling sent, and the priority', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { labels: ['Q4', 'finance', 'Ärger', 'zebra'], priority: 'urgent' });
    expect(task).toMatchObject({ labels: ['Q4', 'finance', 'Ärger', 'zebra'], priority: 'urgent' });
    expect(await getTask(user, task.id)).toEqual(task);
  });

  it('accept 20 labels of 50 characters, and the first and last instants of the years 1000 to 9999', async () => {
    const user = await signUp(server());
    const labels = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '0')}${'é'.repeat(48)}`);
    expect((await createTask(user, { labels })).labels).toEqual(labels);
    expect((await createTask(user, { due_at: '1000-01-01T00:00:00Z' })).due_at).toBe('1000-01-01T00:00:00.000Z');
    expect((await createTask(user, { due_at: '9999-12-31T23:59:59.999Z' })).due_at).toBe('9999-12-31T23:59:59.999Z');
  });

  it('change on PUT as sent: labels replaced, priority set, due_at cleared by null, the rest kept', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { labels: ['a', 'b'], priority: 'low', due_at: '2026-12-10T10:00:00Z' });
    const relabelled = await ok(putTask(user, task.id, { labels: ['c'] }));
    expect(relabelled).toMatchObject({ labels: ['c'], priority: 'low', due_at: '2026-12-10T10:00:00.000Z' });
    const cleared = await ok(putTask(user, task.id, { due_at: null, priority: 'high', labels: [] }));
    expect(cleared).toMatchObject({ labels: [], priority: 'high', due_at: null, title: task.title });
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['21 labels', { labels: Array.from({ length: 21 }, (_, i) => `l${i}`) }, ['/body/labels']],
    ['a label of 51 characters', { labels: ['ok', 'x'.repeat(51)] }, ['/body/labels/1']],
    ['an empty label', { labels: [''] }, ['/body/labels/0']],
    ['a label with a control character', { labels: ['bell\u0007', 'next\u0085line'] }, ['/body/labels/0', '/body/labels/1']],
    ['a label with whitespace at an end', { labels: [' lead', 'trail\u00a0', 'inner space is fine'] }, ['/body/labels/0', '/body/labels/1']],
    ['labels equal ignoring case', { labels: ['Bug', 'docs', 'bug', 'BUG'] }, ['/body/labels/2', '/body/labels/3']],
    ['labels equal once folded (ß is ss)', { labels: ['Straße', 'STRASSE'] }, ['/body/labels/1']],
    ['the same label twice', { labels: ['docs', 'bug', 'docs'] }, ['/body/labels/2']],
    ['a label that is not a string', { labels: [7] }, ['/body/labels/0']],
    ['a priority outside the enum', { priority: 'critical' }, ['/body/priority']],
    ['a due_at without a time zone', { due_at: '2026-12-10T10:00:00' }, ['/body/due_at']],
    ['a due_at that is a date only', { due_at: '2026-12-10' }, ['/body/due_at']],
    ['a due_at before the year 1000', { due_at: '0999-12-31T23:59:59.999Z' }, ['/body/due_at']],
    ['a due_at in year 0', { due_at: '0000-01-01T00:00:00Z' }, ['/body/due_at']],
    ['a due_at past 9999 in UTC', { due_at: '9999-12-31T23:00:00-02:00' }, ['/body/due_at']],
    ['a due_at on a day the month does not have', { due_at: '2026-02-29T10:00:00Z' }, ['/body/due_at']],
    ['completed_at, which is read-only', { completed_at: '2026-12-10T10:00:00Z' }, ['/body/completed_at']],
  ])('refuse %s with 422 naming it, on POST and on PUT, and change nothing', async (_what, fields, pointers) => {
    const user = await signUp(server());
    const task = await createTask(user);
    const created = await send(user, 'POST', '/tasks', { title: 'Refused', ...fields });
    expect([created.status, (await errorsOf(created))?.map((e) => e.pointer)]).toEqual([422, pointers]);
    const updated = await send(user, 'PUT', `/tasks/${task.id}`, fields);
    expect([updated.status, (await errorsOf(updated))?.map((e) => e.pointer)]).toEqual([422, pointers]);
    expect((await ok(list(user))).items).toEqual([task]);
  });

  it('say which label a repeat repeats, and that labels compare ignoring case', async () => {
    const user = await signUp(server());
    const res = await send(user, 'POST', '/tasks', { title: 'Refused', labels: ['Q4', 'finance', 'q4'] });
    expect(await errorsOf(res)).toEqual([{ pointer: '/body/labels/2', message: 'repeats /body/labels/0 (labels are compared ignoring case)' }]);
  });

  it('refused with an Idempotency-Key keep nothing, so the corrected request with that key creates the task', async () => {
    const user = await signUp(server());
    const key = randomUUID();
    const post = (labels: string[]) => user.client.POST('/tasks', { params: { header: { 'Idempotency-Key': key } }, body: { title: 'Once', labels } });
    expect((await post(['x', 'X'])).response.status).toBe(422);
    const { response, data } = await post(['x']);
    expect([response.status, response.headers.get('Idempotent-Replayed'), data?.labels]).toEqual([201, null, ['x']]);
  });
});

describe('completed_at', () => {
  it('is the creation time of a task created done', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { status: 'done' });
    expect(task.completed_at).toBe(task.created_at);
  });

  it('is set to the updated_at of the change that makes a task done', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { status: 'in_progress' });
    const done = await ok(putTask(user, task.id, { status: 'done' }));
    expect(done.completed_at).toBe(done.updated_at);
    expect(Date.parse(done.completed_at!)).toBeGreaterThan(Date.parse(task.updated_at));
  });

  it('stays while the task stays done, through other changes and status done sent again', async () => {
    const user = await signUp(server());
    const done = await createTask(user, { status: 'done' });
    const renamed = await ok(putTask(user, done.id, { title: 'Renamed', labels: ['later'] }));
    const again = await ok(putTask(user, done.id, { status: 'done' }));
    expect([renamed.completed_at, again.completed_at]).toEqual([done.completed_at, done.completed_at]);
    expect(again.updated_at).not.toBe(done.updated_at);
  });

  it('is cleared when the task leaves done, and set anew when it is done again', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { status: 'done' });
    expect((await ok(putTask(user, task.id, { status: 'todo' }))).completed_at).toBeNull();
    const redone = await ok(putTask(user, task.id, { status: 'done' }));
    expect(redone.completed_at).toBe(redone.updated_at);
    expect(redone.completed_at).not.toBe(task.completed_at);
  });
});

describe('filtering by the planning fields', () => {
  it('by priority: only tasks with that priority', async () => {
    const user = await signUp(server());
    const tasks = await Promise.all(PRIORITIES.map((priority) => createTask(user, { priority })));
    for (const [i, priority] of PRIORITIES.entries()) expect(ids((await ok(list(user, { priority }))).items)).toEqual([tasks[i]!.id]);
  });

  it('by label: tasks carrying it, compared ignoring case', async () => {
    const user = await signUp(server());
    const [finance, shouting, street] = [
      await createTask(user, { labels: ['Finance', 'q4'] }),
      await createTask(user, { labels: ['FINANCE'] }),
      await createTask(user, { labels: ['Straße'] }),
    ];
    await createTask(user, { labels: ['finances'] });
    await createTask(user);
    const labelled = async (label: string) => ids((await ok(list(user, { label, sort: 'created_at' }))).items);
    expect(await labelled('finance')).toEqual([finance.id, shouting.id]);
    expect(await labelled('Q4')).toEqual([finance.id]);
    expect(await labelled('STRASSE')).toEqual([street.id]);
    expect(await labelled('nothing')).toEqual([]);
  });

  it('by due date: due_before is strict, due_after inclusive, and both leave out tasks without a due date', async () => {
    const user = await signUp(server());
    const at = (day: number) => `2026-12-${String(day).padStart(2, '0')}T12:00:00.000Z`;
    const [d1, d2, d3] = [await createTask(user, { due_at: at(1) }), await createTask(user, { due_at: at(2) }), await createTask(user, { due_at: at(3) })];
    await createTask(user);
    const due = async (query: ListQuery) => ids((await ok(list(user, { ...query, sort: 'due_at' }))).items);
    expect(await due({ due_before: at(2) })).toEqual([d1.id]);
    expect(await due({ due_after: at(2) })).toEqual([d2.id, d3.id]);
    expect(await due({ due_after: at(1), due_before: at(3) })).toEqual([d1.id, d2.id]);
    // The same instants with an offset.
    expect(await due({ due_after: '2026-12-02T13:00:00+01:00', due_before: '2026-12-03T07:00:00-05:00' })).toEqual([d2.id]);
    expect((await ok(list(user, { due_before: '9999-12-31T23:59:59.999Z' }))).total).toBe(3);
  });

  it('combined, with each other and with status and q', async () => {
    const user = await signUp(server());
    const wanted = await createTask(user, { title: 'Pay the supplier', priority: 'high', labels: ['Finance'], due_at: '2026-12-05T10:00:00Z' });
    await createTask(user, { title: 'Pay the supplier', priority: 'high', labels: ['finance'], due_at: '2026-12-05T10:00:00Z', status: 'done' });
    await createTask(user, { title: 'Pay the supplier', priority: 'low', labels: ['finance'], due_at: '2026-12-05T10:00:00Z' });
    await createTask(user, { title: 'Pay the supplier', priority: 'high', labels: ['legal'], due_at: '2026-12-05T10:00:00Z' });
    await createTask(user, { title: 'Pay the supplier', priority: 'high', labels: ['finance'], due_at: '2026-12-25T10:00:00Z' });
    await createTask(user, { title: 'Call the supplier', priority: 'high', labels: ['finance'], due_at: '2026-12-05T10:00:00Z' });
    const page = await ok(list(user, { status: 'todo', q: 'pay', priority: 'high', label: 'FINANCE', due_after: '2026-12-01T00:00:00Z', due_before: '2026-12-10T00:00:00Z' }));
    expect(page).toMatchObject({ items: [wanted], total: 1 });
  });

  it("lets an admin filter every owner's tasks, or one owner's, by label", async () => {
    const [a, b, admin] = [await signUp(server()), await signUp(server()), await signUp(server(), { role: 'admin' })];
    const label = `label-${randomUUID()}`;
    const [mine, theirs] = [await createTask(a, { labels: [label] }), await createTask(b, { labels: [label.toUpperCase()] })];
    expect(ids((await ok(list(admin, { label }))).items).sort()).toEqual([mine.id, theirs.id].sort());
    expect(ids((await ok(list(admin, { label, owner_id: b.id }))).items)).toEqual([theirs.id]);
  });

  it.each([
    ['priority=critical', '/query/priority'],
    ['label=', '/query/label'],
    [`label=${'x'.repeat(51)}`, '/query/label'],
    ['label=%20lead', '/query/label'],
    ['label=a%00b', '/query/label'],
    ['label=a&label=b', '/query/label'],
    ['due_before=2026-12-01', '/query/due_before'],
    ['due_after=tomorrow', '/query/due_after'],
    ['due_after=0999-01-01T00:00:00Z', '/query/due_after'],
    ['sort=-due', '/query/sort'],
  ])('refuses %s with 422 naming %s', async (search, pointer) => {
    const user = await signUp(server());
    const res = await listRaw(user, search);
    expect(res.status).toBe(422);
    expect((await errorsOf(res))?.map((e) => e.pointer)).toEqual([pointer]);
  });
});

describe('sorting by the planning fields', () => {
  it.each(['due_at', '-due_at'] as const)('%s puts tasks without a due date last, ties broken by id in the same direction', async (sort) => {
    const user = await signUp(server());
    const at = (hour: number) => `2026-12-01T${String(hour).padStart(2, '0')}:00:00.000Z`;
    const tasks = await insertTasks(server(), user, [at(9), null, at(8), at(9), null, at(10), at(8)].map((due_at) => ({ due_at })));
    const dated = tasks.filter((t) => t.due_at !== null).sort((x, y) => (x.due_at! < y.due_at! ? -1 : x.due_at! > y.due_at! ? 1 : byId(x, y)));
    const undated = tasks.filter((t) => t.due_at === null).sort(byId);
    const expected = sort === 'due_at' ? [...dated, ...undated] : [...dated.reverse(), ...undated.reverse()];
    expect(ids((await ok(list(user, { sort }))).items)).toEqual(ids(expected));
  });

  it.each(['priority', '-priority'] as const)('%s orders none < low < medium < high < urgent, ties broken by id in the same direction', async (sort) => {
    const user = await signUp(server());
    const tasks = await insertTasks(server(), user, (['high', 'none', 'urgent', 'low', 'high', 'medium', 'none'] as const).map((priority) => ({ priority })));
    const expected = [...tasks].sort((x, y) => PRIORITIES.indexOf(x.priority) - PRIORITIES.indexOf(y.priority) || byId(x, y));
    if (sort === '-priority') expected.reverse();
    expect(ids((await ok(list(user, { sort }))).items)).toEqual(ids(expected));
  });
});

describe('cursors and the planning filters', () => {
  /** A cursor after the first of two tasks listed with `query`. */
  async function cursorOf(user: SignedUp, query: ListQuery) {
    await createTask(user, { labels: ['finance'], priority: 'high', due_at: '2026-12-01T10:00:00Z' });
    await createTask(user, { labels: ['finance'], priority: 'high', due_at: '2026-12-02T10:00:00Z' });
    return (await ok(list(user, { ...query, limit: 1 }))).next_cursor!;
  }
  const walk: ListQuery = { label: 'finance', priority: 'high', due_after: '2026-11-01T00:00:00Z', due_before: '2027-01-01T00:00:00Z' };

  it.each<[string, ListQuery]>([
    ['another label', { ...walk, label: 'legal' }],
    ['no label', { ...walk, label: undefined }],
    ['another priority', { ...walk, priority: 'low' }],
    ['no priority', { ...walk, priority: undefined }],
    ['another due_after', { ...walk, due_after: '2026-11-02T00:00:00Z' }],
    ['no due_before', { ...walk, due_before: undefined }],
    ['none of the filters', {}],
  ])('refuses a cursor sent with %s with 422 naming /query/cursor', async (_what, query) => {
    const user = await signUp(server());
    const cursor = await cursorOf(user, walk);
    expect((await list(user, { ...walk, cursor })).response.status).toBe(200);
    const refused = await list(user, { ...query, cursor });
    expect([refused.response.status, refused.error?.errors?.map((e) => e.pointer)]).toEqual([422, ['/query/cursor']]);
  });

  it('takes a cursor back with the same filters written otherwise: the label in another case, the instants with another offset', async () => {
    const user = await signUp(server());
    const cursor = await cursorOf(user, walk);
    const same = { ...walk, label: 'FINANCE', due_after: '2026-11-01T01:00:00+01:00' };
    expect((await ok(list(user, { ...same, cursor }))).offset).toBe(1);
  });

  it('continues a walk from a cursor that version 1.1 handed out (which knew no planning filters)', async () => {
    const user = await signUp(server());
    const tasks = await insertTasks(server(), user, [1, 2, 3].map((i) => ({ created_at: `2026-11-0${i}T10:00:00.000Z` })));
    // What 1.1 made after the newest task: bound to the caller, sort, status, q and owner_id only.
    const cursor = createCursors(SECRET_KEY).of(['tasks', user.id, '-created_at', null, null, null]).encode({ value: Date.parse(tasks[2]!.created_at), id: tasks[2]!.id, position: 1 });
    const page = await ok(list(user, { cursor }));
    expect(page).toMatchObject({ offset: 1, total: 3, next_cursor: null });
    expect(ids(page.items)).toEqual([tasks[1]!.id, tasks[0]!.id]);
  });
});

describe('GET /labels', () => {
  const labelsOf = async (user: SignedUp) => (await ok(user.client.GET('/labels'))).items;

  it("lists each of the caller's labels once, with how many tasks carry it, ordered by name ignoring case", async () => {
    const user = await signUp(server());
    await createTask(user, { labels: ['beta', 'Alpha'] });
    await createTask(user, { labels: ['alpha', 'Gamma', 'BETA'] });
    await createTask(user, { labels: ['ALPHA'] });
    await createTask(user);
    expect(await labelsOf(user)).toEqual([
      { name: 'Alpha', count: 3 },
      { name: 'beta', count: 2 },
      { name: 'Gamma', count: 1 },
    ]);
  });

  it('names a label as it is spelt on the oldest task carrying it, whatever the order of creation', async () => {
    const user = await signUp(server());
    await insertTasks(server(), user, [
      { labels: ['Q4'], created_at: '2026-11-03T10:00:00.000Z' },
      { labels: ['q4'], created_at: '2026-11-01T10:00:00.000Z' },
      { labels: ['Straße'], created_at: '2026-11-02T10:00:00.000Z' },
      { labels: ['STRASSE'], created_at: '2026-11-01T10:00:00.000Z' },
    ]);
    expect(await labelsOf(user)).toEqual([
      { name: 'q4', count: 2 },
      { name: 'STRASSE', count: 2 },
    ]);
  });

  it("follows the caller's changes: relabelled and deleted tasks count no more", async () => {
    const user = await signUp(server());
    const [a, b] = [await createTask(user, { labels: ['old', 'kept'] }), await createTask(user, { labels: ['old'] })];
    await ok(putTask(user, a.id, { labels: ['kept'] }));
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: b.id } } }));
    expect(await labelsOf(user)).toEqual([{ name: 'kept', count: 1 }]);
  });

  it("shows only the caller's own tasks' labels, to an admin too, and an empty list to a caller without any", async () => {
    const [user, admin, other] = [await signUp(server()), await signUp(server(), { role: 'admin' }), await signUp(server())];
    await createTask(user, { labels: ['theirs'] });
    await createTask(admin, { labels: ['mine'] });
    expect(await labelsOf(admin)).toEqual([{ name: 'mine', count: 1 }]);
    expect(await labelsOf(other)).toEqual([]);
  });

  it('refuses a request without a bearer token with 401, and an unknown parameter with 422', async () => {
    const user = await signUp(server());
    const anonymous = await server().fetch('/labels');
    expect([anonymous.status, anonymous.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
    const res = await server().fetch('/labels?sort=name', { headers: asUser(user) });
    expect([res.status, (await errorsOf(res))?.map((e) => e.pointer)]).toEqual([422, ['/query/sort']]);
  });
});

// PGlite runs one statement at a time: only PostgreSQL can race them.
describe.skipIf(!onPostgres)('status changes racing on one task (PostgreSQL only)', () => {
  const ROUNDS = 6;
  const RACERS = 8;

  it('all marking it done at once get the completed_at of the change that made it done', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    for (let round = 0; round < ROUNDS; round++) {
      await ok(putTask(user, task.id, { status: 'todo' }));
      const answers = await Promise.all(Array.from({ length: RACERS }, () => ok(putTask(user, task.id, { status: 'done' }))));
      // The first to commit made it done; the others found it done and kept its time.
      const first = answers.reduce((a, b) => (a.updated_at < b.updated_at ? a : b));
      expect(new Set(answers.map((a) => a.completed_at))).toEqual(new Set([first.updated_at]));
      expect((await getTask(user, task.id)).completed_at).toBe(first.updated_at);
    }
  });

  it('racing done against todo and in_progress leaves completed_at consistent with the status, change after change', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const statuses = ['done', 'todo', 'done', 'in_progress', 'done', 'done', 'todo', 'done'] as const;
    for (let round = 0; round < ROUNDS; round++) {
      let previous = await getTask(user, task.id);
      const answers = await Promise.all(statuses.map((status) => ok(putTask(user, task.id, { status }))));
      // In the order the changes were applied (each moves updated_at forward), each answer is what
      // the rule makes of the one before: done keeps an earlier done's time, or takes its own.
      for (const answer of answers.sort((a, b) => (a.updated_at < b.updated_at ? -1 : 1))) {
        const expected = answer.status !== 'done' ? null : previous.status === 'done' ? previous.completed_at : answer.updated_at;
        expect(answer.completed_at).toBe(expected);
        previous = answer;
      }
      expect(await getTask(user, task.id)).toEqual(previous);
    }
  });
});
