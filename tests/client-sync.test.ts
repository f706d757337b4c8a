import jwt from 'jsonwebtoken';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiProblem, ok, subscribe, sync, type ChangeHandlers, type Subscription } from '../src/client/index.js';
import { createPositionTokens } from '../src/sync/position.js';
import { createTask } from './support/tasks.js';
import { useServer } from './support/server.js';
import { tasksInDatabase, type Task } from './support/sync.js';
import { signUp, type SignedUp } from './support/users.js';

// subscribe() reads an endless stream, which the conformance proxy would wait on for ever (see
// tests/sync-events.test.ts): these tests talk to the server directly.
const SECRET_KEY = 'a test secret key for the client sync tests';
const server = useServer({ SECRET_KEY }, { direct: true });

/** A copy of the tasks kept by the handlers, and what they were called with. */
function copy() {
  const tasks = new Map<string, Task>();
  const calls: string[] = [];
  const handlers: ChangeHandlers = {
    upsert: (task) => void (tasks.set(task.id, task), calls.push(`upsert ${task.title}`)),
    delete: (id) => void (tasks.delete(id), calls.push('delete')),
    reset: () => void (tasks.clear(), calls.push('reset')),
  };
  const sorted = () => [...tasks.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  return { tasks, calls, handlers, sorted };
}

const subscriptions: Subscription[] = [];
afterEach(() => subscriptions.splice(0).forEach((s) => s.close()));

/** Polls `check` until it holds, for up to `ms`. */
async function eventually(check: () => boolean, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  return check();
}

const oldPosition = (user: SignedUp) =>
  createPositionTokens(SECRET_KEY).encode(user.id, { kind: 'since', snapshot: { text: '1:1:', at: Date.now() - 31 * 86_400_000 } });

describe('sync()', () => {
  it('hands every task over from nothing, then only what changed, in order, and returns where the copy stands', async () => {
    const user = await signUp(server());
    const [a, b] = [await createTask(user, { title: 'a' }), await createTask(user, { title: 'b' })];
    const mine = copy();
    let since = await sync(user.client, undefined, mine.handlers, { limit: 1 });
    expect(mine.sorted()).toEqual([a, b].sort((x, y) => (x.id < y.id ? -1 : 1)));

    await ok(user.client.PUT('/tasks/{id}', { params: { path: { id: a.id } }, body: { title: 'a changed' } }));
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: b.id } } }));
    mine.calls.length = 0;
    since = await sync(user.client, since, mine.handlers);
    expect(mine.calls).toEqual(['upsert a changed', 'delete']);
    expect(mine.sorted()).toEqual(await tasksInDatabase(server(), user.id));
    expect(typeof since).toBe('string');
  });

  it('starts over from nothing after reset() when its position is too old (410)', async () => {
    const user = await signUp(server());
    const task = await createTask(user, { title: 'kept' });
    const mine = copy();
    mine.tasks.set('stale', { ...task, id: 'stale' });
    await sync(user.client, oldPosition(user), mine.handlers);
    expect(mine.calls).toEqual(['reset', 'upsert kept']);
    expect([...mine.tasks.values()]).toEqual([task]);
  });

  it("throws an ApiProblem for a position that is not the caller's", async () => {
    const [user, other] = [await signUp(server()), await signUp(server())];
    const others = await sync(other.client, undefined, copy().handlers);
    await expect(sync(user.client, others, copy().handlers)).rejects.toMatchObject({ status: 422 });
  });
});

describe('subscribe()', () => {
  it('hands over the changes after since, says when it is live, then hands over live changes and positions', async () => {
    const user = await signUp(server());
    const mine = copy();
    const since = await sync(user.client, undefined, mine.handlers);
    await createTask(user, { title: 'while away' });
    let ready = 0;
    const positions: string[] = [];
    subscriptions.push(subscribe(user.client, { ...mine.handlers, since, ready: () => ready++, position: (p) => positions.push(p) }));
    expect(await eventually(() => ready === 1)).toBe(true);
    expect(mine.calls).toEqual(['upsert while away']);

    const live = await createTask(user, { title: 'live' });
    await ok(user.client.DELETE('/tasks/{id}', { params: { path: { id: live.id } } }));
    expect(await eventually(() => mine.calls.at(-1) === 'delete')).toBe(true);
    // A stream that reads after both commits sees the task only as deleted (a task appears once, in its latest state).
    expect([['upsert while away', 'upsert live', 'delete'], ['upsert while away', 'delete']]).toContainEqual(mine.calls);
    expect(mine.sorted()).toEqual(await tasksInDatabase(server(), user.id));
    // The last position is where the copy stands: nothing after it.
    expect((await ok(user.client.GET('/tasks/changes', { params: { query: { since: positions.at(-1) } } }))).changes).toEqual([]);
  });

  it('reconnects when the stream ends with the access token, with a fresh token and Last-Event-ID, missing nothing', async () => {
    const user = await signUp(server());
    const claims = jwt.decode(user.client.tokens!.access_token) as { sub: string; sid: string; role: string };
    // Long enough to outlast the first connection on a busy machine; the stream then ends with it.
    const shortLived = jwt.sign({ role: claims.role, sid: claims.sid, typ: 'access' }, SECRET_KEY, { algorithm: 'HS256', subject: claims.sub, expiresIn: 4 });
    const client = server().client({ ...user.client.tokens!, access_token: shortLived });
    const mine = copy();
    let ready = 0;
    let disconnected = 0;
    subscriptions.push(subscribe(client, { ...mine.handlers, retryMs: 100, ready: () => ready++, disconnected: () => disconnected++ }));
    expect(await eventually(() => ready === 1)).toBe(true);
    await createTask(user, { title: 'before the token expired' });
    expect(await eventually(() => disconnected === 1, 8_000)).toBe(true);
    await createTask(user, { title: 'while reconnecting' });
    expect(await eventually(() => ready === 2)).toBe(true);
    expect(client.tokens!.access_token).not.toBe(shortLived);
    expect(await eventually(() => mine.tasks.size === 2)).toBe(true);
    expect(mine.sorted()).toEqual(await tasksInDatabase(server(), user.id));
  });

  it('resets and syncs from nothing when its position is too old (410), then goes on live', async () => {
    const user = await signUp(server());
    await createTask(user, { title: 'current' });
    const mine = copy();
    let ready = 0;
    subscriptions.push(subscribe(user.client, { ...mine.handlers, since: oldPosition(user), ready: () => ready++ }));
    expect(await eventually(() => ready === 1)).toBe(true);
    expect(mine.calls).toEqual(['reset', 'upsert current']);
    await createTask(user, { title: 'live' });
    expect(await eventually(() => mine.calls.length === 3)).toBe(true);
  });

  it('stops with an ApiProblem 401 once the session has ended, and done resolves after close()', async () => {
    const user = await signUp(server());
    const mine = copy();
    let ready = 0;
    const ended = subscribe(user.client, { ...mine.handlers, retryMs: 100, ready: () => ready++ });
    expect(await eventually(() => ready === 1)).toBe(true);
    await ok(user.client.POST('/auth/logout-all'));
    const error = await ended.done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiProblem);
    expect((error as ApiProblem).status).toBe(401);

    const other = await signUp(server());
    const closed = subscribe(other.client, copy().handlers);
    closed.close();
    await expect(closed.done).resolves.toBeUndefined();
  });
});
