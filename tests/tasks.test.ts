import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { createTask, asUser } from './support/tasks.js';
import { problemOf, useServer } from './support/server.js';
import { signUp, type SignedUp } from './support/users.js';

const server = useServer();

const getTask = (user: SignedUp, id: string) => user.client.GET('/tasks/{id}', { params: { path: { id } } });
const putTask = (user: SignedUp, id: string, body: { title?: string; description?: string | null; status?: 'todo' | 'in_progress' | 'done' }, ifMatch?: string) =>
  user.client.PUT('/tasks/{id}', { params: { path: { id }, header: ifMatch === undefined ? {} : { 'If-Match': ifMatch } }, body });
const deleteTask = (user: SignedUp, id: string, ifMatch?: string) =>
  user.client.DELETE('/tasks/{id}', { params: { path: { id }, header: ifMatch === undefined ? {} : { 'If-Match': ifMatch } } });
const send = (user: SignedUp, method: string, path: string, body: unknown) =>
  server().fetch(path, { method, headers: asUser(user, { 'Content-Type': 'application/json' }), body: JSON.stringify(body) });
const pointers = async (res: Response) => (await problemOf(res)).errors?.map((e) => e.pointer);
const pointersOf = (result: { error?: { errors?: { pointer: string }[] } }) => result.error?.errors?.map((e) => e.pointer);

describe('creating a task', () => {
  it('answers 201 with the task, its Location and an ETag, status todo by default', async () => {
    const user = await signUp(server());
    const { data, response } = await user.client.POST('/tasks', { body: { title: 'Write the report' } });
    expect(response.status).toBe(201);
    expect(data).toMatchObject({ title: 'Write the report', description: null, status: 'todo', owner_id: user.id });
    expect(response.headers.get('location')).toBe(`/tasks/${data!.id}`);
    expect(response.headers.get('etag')).toMatch(/^"\d+"$/);
    expect(data!.updated_at).toBe(data!.created_at);
  });

  it('keeps the status and description it is given', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { status: 'in_progress', description: 'Numbers are in the shared folder.' });
    expect(task).toMatchObject({ status: 'in_progress', description: 'Numbers are in the shared folder.' });
  });

  it('accepts a null description', async () => {
    const user = await signUp(server());
    expect((await createTask(user, { description: null })).description).toBeNull();
  });

  it('stores the title exactly as sent, surrounding spaces included', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { title: '  padded title  ' });
    expect((await ok(getTask(user, task.id))).title).toBe('  padded title  ');
  });

  it('round-trips a unicode title (emoji, right-to-left, combining marks) byte for byte', async () => {
    const user = await signUp(server());
    const title = 'Plan 👩‍👩‍👧 עברית العربية e\u0301 n\u0303 ✅';
    const task = await createTask(user, { title });
    const read = await ok(getTask(user, task.id));
    expect(Buffer.from(read.title, 'utf8').equals(Buffer.from(title, 'utf8'))).toBe(true);
  });

  it('refuses a lone surrogate (which no database could store as sent) with 422 naming the field', async () => {
    const user = await signUp(server());
    const result = await user.client.POST('/tasks', { body: { title: 'broken \ud800 text', description: 'ok \udc00' } });
    expect(result.response.status).toBe(422);
    expect(pointersOf(result)).toEqual(['/body/title', '/body/description']);
  });

  // PGlite's wire decoder drops a leading byte-order mark from every text it returns (the stored
  // value is intact); PostgreSQL returns it. Documented in the README as an embedded-database limit.
  it.skipIf(!process.env.TEST_DATABASE_URL)('round-trips a leading byte-order mark (PostgreSQL only)', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { title: '\ufeffstarts with a BOM' });
    expect((await ok(getTask(user, task.id))).title).toBe('\ufeffstarts with a BOM');
  });

  it('accepts a title of 200 characters', async () => {
    const user = await signUp(server());
    expect((await createTask(user, { title: 'x'.repeat(200) })).title).toHaveLength(200);
  });

  it('refuses a title of 201 characters with 422 naming /body/title', async () => {
    const user = await signUp(server());
    const result = await user.client.POST('/tasks', { body: { title: 'x'.repeat(201) } });
    expect(result.response.status).toBe(422);
    expect(pointersOf(result)).toEqual(['/body/title']);
  });

  it('refuses a whitespace-only title with 422', async () => {
    const user = await signUp(server());
    const { response, error } = await user.client.POST('/tasks', { body: { title: ' \t\n ' } });
    expect(response.status).toBe(422);
    expect(error?.errors).toEqual([{ pointer: '/body/title', message: 'must not be blank or contain NUL characters' }]);
  });

  it('refuses an empty title with one error for /body/title, not one per broken rule', async () => {
    const user = await signUp(server());
    const { response, error } = await user.client.POST('/tasks', { body: { title: '' } });
    expect(response.status).toBe(422);
    expect(error?.errors).toEqual([{ pointer: '/body/title', message: 'must not be empty' }]);
    expect(error?.detail).toBe('The request has 1 invalid value.');
  });

  it('refuses a title containing NUL with 422', async () => {
    const user = await signUp(server());
    const { response } = await user.client.POST('/tasks', { body: { title: 'before\u0000after' } });
    expect(response.status).toBe(422);
  });

  it('refuses a missing title with 422', async () => {
    const user = await signUp(server());
    const res = await send(user, 'POST', '/tasks', { description: 'no title' });
    expect(res.status).toBe(422);
    expect(await pointers(res)).toEqual(['/body/title']);
  });

  it.each(['id', 'owner_id', 'created_at', 'updated_at'])('refuses %s in the body with 422 (no mass assignment)', async (field) => {
    const user = await signUp(server());
    const res = await send(user, 'POST', '/tasks', { title: 'Mine', [field]: field.endsWith('id') ? randomUUID() : '2020-01-01T00:00:00.000Z' });
    expect(res.status).toBe(422);
    expect(await pointers(res)).toEqual([`/body/${field}`]);
  });
});

describe('reading a task', () => {
  it('gives the owner the task with the ETag it was created with', async () => {
    const user = await signUp(server());
    const created = await user.client.POST('/tasks', { body: { title: 'Read me' } });
    const { data, response } = await getTask(user, created.data!.id);
    expect(data).toEqual(created.data);
    expect(response.headers.get('etag')).toBe(created.response.headers.get('etag'));
  });

  it('answers 404 for an id no task has', async () => {
    const user = await signUp(server());
    expect((await getTask(user, randomUUID())).response.status).toBe(404);
  });

  it.each(['not-a-uuid', 'urn:uuid:9b2f6f7e-0c55-4d38-9a36-2f4c3c5e8d11'])('answers 422 naming /path/id for the id %s', async (id) => {
    const user = await signUp(server());
    const result = await getTask(user, id);
    expect(result.response.status).toBe(422);
    expect(pointersOf(result)).toEqual(['/path/id']);
  });
});

describe('updating a task', () => {
  it('changes only the fields sent', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { description: 'keep me' });
    const updated = await ok(putTask(user, task.id, { status: 'done' }));
    expect(updated).toMatchObject({ title: task.title, description: 'keep me', status: 'done', created_at: task.created_at });
  });

  it('can clear the description with null', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { description: 'soon gone' });
    expect((await ok(putTask(user, task.id, { description: null }))).description).toBeNull();
  });

  it('moves updated_at and the ETag forward on every change, even back to back', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const first = await putTask(user, task.id, { status: 'in_progress' });
    const second = await putTask(user, task.id, { status: 'done' });
    expect(Date.parse(first.data!.updated_at)).toBeGreaterThan(Date.parse(task.updated_at));
    expect(Date.parse(second.data!.updated_at)).toBeGreaterThan(Date.parse(first.data!.updated_at));
    expect(second.response.headers.get('etag')).not.toBe(first.response.headers.get('etag'));
    expect(second.response.headers.get('etag')).toBe((await getTask(user, task.id)).response.headers.get('etag'));
  });

  it('refuses an empty body with 422', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const { response, error } = await putTask(user, task.id, {});
    expect(response.status).toBe(422);
    expect(error?.errors).toEqual([{ pointer: '/body', message: 'must contain at least one field' }]);
  });

  it('refuses a whitespace-only title with 422', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    expect((await putTask(user, task.id, { title: '   ' })).response.status).toBe(422);
  });

  it.each(['id', 'owner_id', 'created_at', 'updated_at'])('refuses %s in the body with 422 and changes nothing', async (field) => {
    const user = await signUp(server());
    const task = await createTask(user);
    const res = await send(user, 'PUT', `/tasks/${task.id}`, { title: 'Changed', [field]: field.endsWith('id') ? randomUUID() : '2020-01-01T00:00:00.000Z' });
    expect(res.status).toBe(422);
    expect(await pointers(res)).toEqual([`/body/${field}`]);
    expect(await ok(getTask(user, task.id))).toEqual(task);
  });

  it('answers 404 for an id no task has', async () => {
    const user = await signUp(server());
    expect((await putTask(user, randomUUID(), { status: 'done' })).response.status).toBe(404);
  });
});

describe('deleting a task', () => {
  it('answers 204, after which the task is 404', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    expect((await deleteTask(user, task.id)).response.status).toBe(204);
    expect((await getTask(user, task.id)).response.status).toBe(404);
  });

  it('answers 404 the second time', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    await deleteTask(user, task.id);
    expect((await deleteTask(user, task.id)).response.status).toBe(404);
  });
});

describe('If-Match', () => {
  const etagOf = async (user: SignedUp, id: string) => (await getTask(user, id)).response.headers.get('etag')!;

  it('lets a PUT with the current ETag through', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    expect((await putTask(user, task.id, { status: 'done' }, await etagOf(user, task.id))).response.status).toBe(200);
  });

  it('refuses a PUT with a stale ETag with 412 and changes nothing', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const stale = await etagOf(user, task.id);
    const current = await ok(putTask(user, task.id, { status: 'in_progress' }));
    const { response, error } = await putTask(user, task.id, { status: 'done' }, stale);
    expect(response.status).toBe(412);
    expect(error).toMatchObject({ type: '/problems/precondition-failed', status: 412 });
    expect(await ok(getTask(user, task.id))).toEqual(current);
  });

  it('lets * match any version', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    await putTask(user, task.id, { status: 'in_progress' });
    expect((await putTask(user, task.id, { status: 'done' }, '*')).response.status).toBe(200);
  });

  it('answers 404, not 412, for * on a task that does not exist', async () => {
    const user = await signUp(server());
    expect((await putTask(user, randomUUID(), { status: 'done' }, '*')).response.status).toBe(404);
  });

  it('matches when any ETag of a list is current', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const list = `"1", W/"2", ${await etagOf(user, task.id)}`;
    expect((await putTask(user, task.id, { status: 'done' }, list)).response.status).toBe(200);
  });

  it('never matches a weak ETag, since If-Match compares strongly', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    expect((await putTask(user, task.id, { status: 'done' }, `W/${await etagOf(user, task.id)}`)).response.status).toBe(412);
  });

  it('refuses an If-Match over 200 characters with 422 naming /header/If-Match, as the spec spells it', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    expect(pointersOf(await putTask(user, task.id, { status: 'done' }, `"${'1'.repeat(200)}"`))).toEqual(['/header/If-Match']);
  });

  it.each(['"8640000000000000"', 'garbage', '""'])('refuses If-Match: %s, which names no version we issued, with 412', async (ifMatch) => {
    const user = await signUp(server());
    const task = await createTask(user);
    expect((await putTask(user, task.id, { status: 'done' }, ifMatch)).response.status).toBe(412);
  });

  it('lets a DELETE with the current ETag through', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    expect((await deleteTask(user, task.id, await etagOf(user, task.id))).response.status).toBe(204);
  });

  it('refuses a DELETE with a stale ETag with 412 and keeps the task', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const stale = await etagOf(user, task.id);
    await putTask(user, task.id, { status: 'done' });
    expect((await deleteTask(user, task.id, stale)).response.status).toBe(412);
    expect((await getTask(user, task.id)).response.status).toBe(200);
  });
});

describe('If-None-Match', () => {
  /** A conditional GET as a cache makes it, with plain fetch so that the body can be seen to be empty. */
  const read = (user: SignedUp, id: string, ifNoneMatch: string) =>
    server().fetch(`/tasks/${id}`, { headers: asUser(user, { 'If-None-Match': ifNoneMatch }) });
  const etagOf = async (user: SignedUp, id: string) => (await getTask(user, id)).response.headers.get('etag')!;

  it('answers 304 with the ETag and no body while the task still has the ETag sent', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const etag = await etagOf(user, task.id);
    const res = await read(user, task.id, etag);
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe(etag);
    expect(await res.text()).toBe('');
  });

  it.each([
    ['the weak form of the ETag (weak comparison)', (etag: string) => `W/${etag}`],
    ['a list that holds the ETag', (etag: string) => `"1", W/"2",${etag}`],
    ['*', () => '*'],
  ])('answers 304 for %s', async (_what, header) => {
    const user = await signUp(server());
    const task = await createTask(user);
    expect((await read(user, task.id, header(await etagOf(user, task.id)))).status).toBe(304);
  });

  it('answers 200 with the task once it has changed', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const stale = await etagOf(user, task.id);
    const current = await ok(putTask(user, task.id, { status: 'done' }));
    const res = await read(user, task.id, stale);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(current);
  });

  it.each(['garbage', '""', '"1", "2"'])('answers 200 for If-None-Match: %s, which names no version of the task', async (header) => {
    const user = await signUp(server());
    const task = await createTask(user);
    expect((await read(user, task.id, header)).status).toBe(200);
  });

  it("answers 404 for someone else's task, whatever If-None-Match says", async () => {
    const [owner, other] = [await signUp(server()), await signUp(server())];
    const task = await createTask(owner);
    for (const header of ['*', await etagOf(owner, task.id)]) expect((await read(other, task.id, header)).status).toBe(404);
  });

  it('answers 404 for * on a task that does not exist', async () => {
    const user = await signUp(server());
    expect((await read(user, randomUUID(), '*')).status).toBe(404);
  });

  it('refuses an If-None-Match over 1000 characters with 422 naming /header/If-None-Match', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const res = await read(user, task.id, `"${'1'.repeat(1000)}"`);
    expect(res.status).toBe(422);
    expect(await pointers(res)).toEqual(['/header/If-None-Match']);
  });
});

describe('If-Match and If-None-Match on every method, in RFC 9110 §13.2.2 order', () => {
  type Conditions = { 'If-Match'?: string; 'If-None-Match'?: string };
  const etagOf = async (user: SignedUp, id: string) => (await getTask(user, id)).response.headers.get('etag')!;
  const get = (user: SignedUp, id: string, header: Conditions) => user.client.GET('/tasks/{id}', { params: { path: { id }, header } });
  const put = (user: SignedUp, id: string, header: Conditions) =>
    user.client.PUT('/tasks/{id}', { params: { path: { id }, header }, body: { title: 'Changed under a precondition' } });
  const del = (user: SignedUp, id: string, header: Conditions) => user.client.DELETE('/tasks/{id}', { params: { path: { id }, header } });
  /** A user with a task that has been changed once: its first ETag is stale. */
  async function changedTask() {
    const user = await signUp(server());
    const task = await createTask(user);
    const stale = await etagOf(user, task.id);
    const current = await ok(putTask(user, task.id, { status: 'in_progress' }));
    return { user, task: current, stale, etag: await etagOf(user, task.id) };
  }

  it('refuses a GET whose If-Match names another version with 412', async () => {
    const { user, task, stale } = await changedTask();
    const { response, error } = await get(user, task.id, { 'If-Match': stale });
    expect(response.status).toBe(412);
    expect(error).toMatchObject({ type: '/problems/precondition-failed', status: 412 });
  });

  it('answers a GET whose If-Match names the current version (or is *) with 200', async () => {
    const { user, task, etag } = await changedTask();
    expect(await ok(get(user, task.id, { 'If-Match': etag }))).toEqual(task);
    expect(await ok(get(user, task.id, { 'If-Match': '*' }))).toEqual(task);
  });

  it('evaluates If-Match before If-None-Match on a GET: a failed If-Match is 412, not 304', async () => {
    const { user, task, stale, etag } = await changedTask();
    expect((await get(user, task.id, { 'If-Match': stale, 'If-None-Match': etag })).response.status).toBe(412);
    expect((await get(user, task.id, { 'If-Match': etag, 'If-None-Match': etag })).response.status).toBe(304);
  });

  it.each([
    ['*', () => '*'],
    ['the current ETag', (etag: string) => etag],
    ['the weak form of the current ETag', (etag: string) => `W/${etag}`],
  ])('refuses a PUT with If-None-Match: %s on an existing task with 412 and changes nothing', async (_what, header) => {
    const { user, task, etag } = await changedTask();
    const { response, error } = await put(user, task.id, { 'If-None-Match': header(etag) });
    expect(response.status).toBe(412);
    expect(error).toMatchObject({ type: '/problems/precondition-failed', status: 412 });
    expect(await ok(getTask(user, task.id))).toEqual(task);
  });

  it('lets a PUT through when If-None-Match names only other versions', async () => {
    const { user, task, stale } = await changedTask();
    expect((await put(user, task.id, { 'If-None-Match': stale })).response.status).toBe(200);
  });

  it.each([
    ['*', () => '*'],
    ['the current ETag', (etag: string) => etag],
  ])('refuses a DELETE with If-None-Match: %s on an existing task with 412 and keeps it', async (_what, header) => {
    const { user, task, etag } = await changedTask();
    expect((await del(user, task.id, { 'If-None-Match': header(etag) })).response.status).toBe(412);
    expect(await ok(getTask(user, task.id))).toEqual(task);
  });

  it('lets a DELETE through when If-None-Match names only other versions', async () => {
    const { user, task, stale } = await changedTask();
    expect((await del(user, task.id, { 'If-None-Match': stale })).response.status).toBe(204);
  });

  it('writes only when both hold: If-Match names the current version and If-None-Match does not', async () => {
    const { user, task, stale, etag } = await changedTask();
    expect((await put(user, task.id, { 'If-Match': etag, 'If-None-Match': etag })).response.status).toBe(412);
    expect((await put(user, task.id, { 'If-Match': stale, 'If-None-Match': stale })).response.status).toBe(412);
    expect((await put(user, task.id, { 'If-Match': etag, 'If-None-Match': stale })).response.status).toBe(200);
  });

  it('answers 404 for preconditions on a task that does not exist, or is someone else\'s', async () => {
    const { task } = await changedTask();
    const other = await signUp(server());
    for (const id of [randomUUID(), task.id]) {
      expect((await get(other, id, { 'If-Match': '"1"' })).response.status).toBe(404);
      expect((await put(other, id, { 'If-None-Match': '*' })).response.status).toBe(404);
      expect((await del(other, id, { 'If-None-Match': '*' })).response.status).toBe(404);
    }
  });
});

describe("someone else's task", () => {
  it('is 404 on GET', async () => {
    const [owner, other] = [await signUp(server()), await signUp(server())];
    const task = await createTask(owner);
    const { response, error } = await getTask(other, task.id);
    expect(response.status).toBe(404);
    expect(error?.type).toBe('/problems/not-found');
  });

  it('is 404 on PUT and stays unchanged', async () => {
    const [owner, other] = [await signUp(server()), await signUp(server())];
    const task = await createTask(owner);
    expect((await putTask(other, task.id, { title: 'Hijacked' })).response.status).toBe(404);
    expect(await ok(getTask(owner, task.id))).toEqual(task);
  });

  it('is 404 on DELETE and stays in place', async () => {
    const [owner, other] = [await signUp(server()), await signUp(server())];
    const task = await createTask(owner);
    expect((await deleteTask(other, task.id)).response.status).toBe(404);
    expect(await ok(getTask(owner, task.id))).toEqual(task);
  });

  it('is 404, not 412, even with a stale ETag, so it reveals nothing', async () => {
    const [owner, other] = [await signUp(server()), await signUp(server())];
    const task = await createTask(owner);
    expect((await putTask(other, task.id, { title: 'Hijacked' }, '"1"')).response.status).toBe(404);
  });

  it('is readable by an admin', async () => {
    const [owner, admin] = [await signUp(server()), await signUp(server(), { role: 'admin' })];
    const task = await createTask(owner);
    expect(await ok(getTask(admin, task.id))).toEqual(task);
  });

  it('is updatable by an admin, and keeps its owner', async () => {
    const [owner, admin] = [await signUp(server()), await signUp(server(), { role: 'admin' })];
    const task = await createTask(owner);
    expect(await ok(putTask(admin, task.id, { status: 'done' }))).toMatchObject({ status: 'done', owner_id: owner.id });
  });

  it('is deletable by an admin', async () => {
    const [owner, admin] = [await signUp(server()), await signUp(server(), { role: 'admin' })];
    const task = await createTask(owner);
    expect((await deleteTask(admin, task.id)).response.status).toBe(204);
    expect((await getTask(owner, task.id)).response.status).toBe(404);
  });
});
