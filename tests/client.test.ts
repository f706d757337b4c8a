import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { ApiProblem, createTaskClient, createTaskOnce, ok, walk, type TokenPair } from '../src/client/index.js';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

const SECRET_KEY = 'a-test-secret-that-is-long-enough-for-hs256';
const server = useServer({ SECRET_KEY });

/** The same pair with its access token already expired. */
function withExpiredAccess(pair: TokenPair): TokenPair {
  const { iat, exp, ...claims } = jwt.decode(pair.access_token) as jwt.JwtPayload;
  const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 5 }, SECRET_KEY, { algorithm: 'HS256' });
  return { ...pair, access_token: expired };
}

/** A client whose fetch counts the refreshes it makes. */
function countingClient(tokens: TokenPair) {
  const counter = { refreshes: 0 };
  const client = createTaskClient({
    baseUrl: server().baseUrl,
    tokens,
    fetch: (input, init) => {
      if (new URL(input instanceof Request ? input.url : String(input)).pathname === '/auth/refresh') counter.refreshes++;
      return fetch(input, init);
    },
  });
  return { client, counter };
}

describe('the typed client', () => {
  it('refreshes an expired access token once and retries the request', async () => {
    const { client: original } = await signUp(server());
    const { client, counter } = countingClient(withExpiredAccess(original.tokens!));
    expect((await client.GET('/auth/me')).response.status).toBe(200);
    expect(counter.refreshes).toBe(1);
    expect(client.tokens!.refresh_token).not.toBe(original.tokens!.refresh_token);
  });

  it('shares one refresh between concurrent calls', async () => {
    const { client: original } = await signUp(server());
    const { client, counter } = countingClient(withExpiredAccess(original.tokens!));
    const statuses = await Promise.all(Array.from({ length: 5 }, () => client.GET('/auth/me').then((r) => r.response.status)));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(counter.refreshes).toBe(1);
  });

  it('retries a request with a body after refreshing', async () => {
    const { client: original, password } = await signUp(server());
    const { client } = countingClient(withExpiredAccess(original.tokens!));
    const { response } = await client.POST('/auth/password', { body: { current_password: password, new_password: 'a-brand-new-secret' } });
    expect(response.status).toBe(204);
  });

  it('forgets the pair and returns the 401 when the refresh fails', async () => {
    const { client: original } = await signUp(server());
    const expired = withExpiredAccess(original.tokens!);
    await original.logout();
    const { client } = countingClient(expired);
    expect((await client.GET('/auth/me')).response.status).toBe(401);
    expect(client.tokens).toBeUndefined();
  });

  it('keeps the pair when the refresh itself fails for another reason (503)', async () => {
    const { client: original } = await signUp(server());
    const expired = withExpiredAccess(original.tokens!);
    const client = createTaskClient({
      baseUrl: server().baseUrl,
      tokens: expired,
      fetch: (input, init) =>
        new URL(input instanceof Request ? input.url : String(input)).pathname === '/auth/refresh'
          ? Promise.resolve(new Response(null, { status: 503 }))
          : fetch(input, init),
    });
    expect((await client.GET('/auth/me')).response.status).toBe(401);
    expect(client.tokens).toEqual(expired);
  });

  it('does not refresh on a 401 that is about a wrong password', async () => {
    const { client: original } = await signUp(server());
    const { client, counter } = countingClient(original.tokens!);
    const { response } = await client.POST('/auth/password', { body: { current_password: 'not-my-password', new_password: 'a-brand-new-secret' } });
    expect(response.status).toBe(401);
    expect(counter.refreshes).toBe(0);
  });

  it('ok() throws problem+json errors as ApiProblem with the typed problem', async () => {
    const error = await ok(server().client().POST('/auth/login', { body: { email: 'nobody@example.com', password: 'whatever-password' } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiProblem);
    expect((error as ApiProblem).status).toBe(401);
    expect((error as ApiProblem).problem.type).toBe('/problems/invalid-credentials');
  });

  it('behind a base path (a dev-server proxy on /api) still does not refresh on a 401 from /auth/refresh itself', async () => {
    const { client: original } = await signUp(server());
    const counter = { refreshes: 0 };
    const client = createTaskClient({
      baseUrl: `${server().baseUrl}/api`,
      tokens: original.tokens,
      fetch: async (input, init) => {
        const request = new Request(input, init);
        const url = new URL(request.url);
        url.pathname = url.pathname.replace(/^\/api/, ''); // what the proxy does
        if (url.pathname === '/auth/refresh') counter.refreshes++;
        return fetch(url, { method: request.method, headers: request.headers, body: await request.text() });
      },
    });
    const { response } = await client.POST('/auth/refresh', { body: { refresh_token: 'not-a-token' } });
    expect(response.status).toBe(401);
    expect(counter.refreshes).toBe(1);
    expect(client.tokens).toEqual(original.tokens);
  });

  it('login keeps the pair and logout forgets it and ends the session', async () => {
    const { email, password } = await signUp(server());
    const client = server().client();
    await client.login(email, password);
    const pair = client.tokens!;
    await client.logout();
    expect(client.tokens).toBeUndefined();
    expect((await server().client(pair).GET('/auth/me')).response.status).toBe(401);
  });
});

describe('walking a listing with walk()', () => {
  it('yields every task in order, page after page, following next_cursor', async () => {
    const { client } = await signUp(server());
    for (let i = 0; i < 5; i++) await ok(client.POST('/tasks', { body: { title: `task ${i}` } }));
    const titles: string[] = [];
    for await (const task of walk(client, '/tasks', { sort: 'title', limit: 2 })) titles.push(task.title);
    expect(titles).toEqual(['task 0', 'task 1', 'task 2', 'task 3', 'task 4']);
  });

  it('walks users too', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    const emails: string[] = [];
    for await (const user of walk(admin.client, '/users', { limit: 1 })) emails.push(user.email);
    expect(emails).toContain(admin.email);
    expect(emails).toHaveLength((await ok(admin.client.GET('/users'))).total);
  });
});

describe('creating a task with createTaskOnce()', () => {
  /**
   * A client whose POST /tasks attempts reach the server, but whose first `lose` answers are
   * replaced by `instead` (or a network error): the answers a flaky network loses.
   */
  function losingClient(tokens: TokenPair, lose: number, instead?: () => Response) {
    const keys: string[] = [];
    const client = createTaskClient({
      baseUrl: server().baseUrl,
      tokens,
      fetch: async (input, init) => {
        const request = new Request(input, init);
        if (request.method !== 'POST' || new URL(request.url).pathname !== '/tasks') return fetch(request);
        keys.push(request.headers.get('Idempotency-Key')!);
        const response = await fetch(request);
        if (keys.length > lose) return response;
        if (!instead) throw new TypeError('fetch failed');
        return instead();
      },
    });
    return { client, keys };
  }
  const countTasks = async (client: ReturnType<typeof createTaskClient>) => (await ok(client.GET('/tasks'))).total;

  it.each([
    ['a network error', undefined],
    ['a 503 from a proxy', () => new Response('<html>Service Unavailable</html>', { status: 503 })],
  ])('retries after %s with the same key and gets the task it created, once', async (_what, instead) => {
    const user = await signUp(server());
    const { client, keys } = losingClient(user.client.tokens!, 2, instead);
    const task = await createTaskOnce(client, { title: 'Write the report' }, { retryDelayMs: 1 });
    expect(task).toMatchObject({ title: 'Write the report', owner_id: user.id });
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(await countTasks(user.client)).toBe(1);
  });

  it('retries while the server answers 409 because the first attempt is still running', async () => {
    const user = await signUp(server());
    const inUse = () =>
      Response.json({ type: '/problems/idempotency-key-in-use', title: 'Conflict', status: 409, detail: 'Still running.' }, { status: 409 });
    const { client, keys } = losingClient(user.client.tokens!, 1, inUse);
    await createTaskOnce(client, { title: 'Write the report' }, { retryDelayMs: 1 });
    expect(keys).toHaveLength(2);
    expect(await countTasks(user.client)).toBe(1);
  });

  it('uses a new key for each task, or the one it is given', async () => {
    const user = await signUp(server());
    const { client, keys } = losingClient(user.client.tokens!, 0);
    await createTaskOnce(client, { title: 'One' });
    await createTaskOnce(client, { title: 'Two' });
    await createTaskOnce(client, { title: 'Three' }, { key: 'my-own-key' });
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe('my-own-key');
  });

  it('throws an ApiProblem at once for an answer a retry cannot change (422)', async () => {
    const user = await signUp(server());
    const { client, keys } = losingClient(user.client.tokens!, 0);
    const error = await createTaskOnce(client, { title: '' }, { retryDelayMs: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiProblem);
    expect((error as ApiProblem).status).toBe(422);
    expect(keys).toHaveLength(1);
  });

  it('gives up after the last attempt with what it got', async () => {
    const user = await signUp(server());
    const { client, keys } = losingClient(user.client.tokens!, 10, () => new Response('bad gateway', { status: 502 }));
    const error = await createTaskOnce(client, { title: 'Write the report' }, { attempts: 3, retryDelayMs: 1 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502 });
    expect(keys).toHaveLength(3);
  });
});
