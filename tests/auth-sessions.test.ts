import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ApiProblem, ok, type TokenPair } from '../src/client/index.js';
import { useServer } from './support/server.js';
import { signUp, type SignedUp } from './support/users.js';

const server = useServer();

/** Another login of the same user, with this User-Agent. */
const loginAgain = (user: SignedUp, userAgent = 'Mozilla/5.0 (Tablet)') =>
  ok(server().client().POST('/auth/login', { body: { email: user.email, password: user.password }, headers: { 'User-Agent': userAgent } }));
const meWith = async (pair: TokenPair) =>
  (await server().client().GET('/auth/me', { headers: { Authorization: `Bearer ${pair.access_token}` } })).response.status;
const refreshWith = async (pair: TokenPair) =>
  (await server().client().POST('/auth/refresh', { body: { refresh_token: pair.refresh_token } })).response.status;
const statusOf = (promise: Promise<unknown>) => promise.then(() => 200, (error: ApiProblem) => error.status);

describe('GET /auth/sessions', () => {
  it("lists the caller's live sessions, newest first, marking the current one", async () => {
    const user = await signUp(server());
    await sleep(5);
    await loginAgain(user, 'Mozilla/5.0 (Phone)');
    const sessions = await user.client.listSessions();
    expect(sessions).toHaveLength(2);
    expect(sessions.map((s) => s.user_agent)).toEqual(['Mozilla/5.0 (Phone)', expect.any(String)]);
    expect(sessions.map((s) => s.current)).toEqual([false, true]);
    expect(Date.parse(sessions[0]!.created_at)).toBeGreaterThan(Date.parse(sessions[1]!.created_at));
    for (const session of sessions) expect(Object.keys(session).sort()).toEqual(['created_at', 'current', 'id', 'last_used_at', 'user_agent']);
  });

  it('keeps the first 512 characters of the User-Agent', async () => {
    const user = await signUp(server());
    const pair = await loginAgain(user, `Agent/${'x'.repeat(600)}`);
    const [newest] = await server().client(pair).listSessions();
    expect(newest!.user_agent).toBe(`Agent/${'x'.repeat(506)}`);
  });

  it('moves last_used_at on a refresh, but not on other requests', async () => {
    const user = await signUp(server());
    const [atLogin] = await user.client.listSessions();
    expect(atLogin!.last_used_at).toBe(atLogin!.created_at);
    await sleep(5);
    await ok(user.client.GET('/auth/me'));
    expect((await user.client.listSessions())[0]!.last_used_at).toBe(atLogin!.last_used_at);
    const next = await ok(server().client().POST('/auth/refresh', { body: { refresh_token: user.client.tokens!.refresh_token } }));
    const [afterRefresh] = await server().client(next).listSessions();
    expect(Date.parse(afterRefresh!.last_used_at)).toBeGreaterThan(Date.parse(atLogin!.last_used_at));
    expect(afterRefresh).toMatchObject({ id: atLogin!.id, created_at: atLogin!.created_at });
  });

  it('leaves out ended sessions, sessions whose refresh token expired, and other users’ sessions', async () => {
    const user = await signUp(server());
    const ended = await loginAgain(user);
    await ok(server().client().POST('/auth/logout', { body: { refresh_token: ended.refresh_token } }));
    const expired = await server().client(await loginAgain(user)).listSessions();
    await server().knex('refresh_tokens').where('session_id', expired.find((s) => s.current)!.id).update({ expires_at: new Date(Date.now() - 1000) });
    await signUp(server());
    const sessions = await user.client.listSessions();
    expect(sessions.map((s) => s.current)).toEqual([true]);
  });
});

describe('DELETE /auth/sessions/{id}', () => {
  it('ends that session at once: its access and refresh tokens stop working, the caller’s stays', async () => {
    const user = await signUp(server());
    const tablet = await loginAgain(user);
    const target = (await user.client.listSessions()).find((s) => !s.current)!;
    await user.client.endSession(target.id);
    expect(await meWith(tablet)).toBe(401);
    expect(await refreshWith(tablet)).toBe(401);
    expect((await user.client.listSessions()).map((s) => s.id)).not.toContain(target.id);
    expect((await user.client.GET('/auth/me')).response.status).toBe(200);
  });

  it('ends the current session too, which logs the caller out', async () => {
    const user = await signUp(server());
    const pair = user.client.tokens!;
    const current = (await user.client.listSessions()).find((s) => s.current)!;
    await user.client.endSession(current.id);
    expect(await meWith(pair)).toBe(401);
  });

  it('answers 404 for another user’s session and leaves it alive', async () => {
    const [user, other] = [await signUp(server()), await signUp(server())];
    const [theirs] = await other.client.listSessions();
    expect(await statusOf(user.client.endSession(theirs!.id))).toBe(404);
    expect((await other.client.GET('/auth/me')).response.status).toBe(200);
  });

  it('answers 404 for an ended session and for an unknown id', async () => {
    const user = await signUp(server());
    const tablet = await loginAgain(user);
    const target = (await user.client.listSessions()).find((s) => !s.current)!;
    await ok(server().client().POST('/auth/logout', { body: { refresh_token: tablet.refresh_token } }));
    expect(await statusOf(user.client.endSession(target.id))).toBe(404);
    expect(await statusOf(user.client.endSession(randomUUID()))).toBe(404);
  });

  it('answers 422 naming /path/id for an id that is not a UUID', async () => {
    const user = await signUp(server());
    const { response, error } = await user.client.DELETE('/auth/sessions/{id}', { params: { path: { id: 'not-a-uuid' } } });
    expect(response.status).toBe(422);
    expect(error?.errors?.map((e) => e.pointer)).toEqual(['/path/id']);
  });
});

describe('a login without a User-Agent', () => {
  // Direct: a proxy in between would send a User-Agent of its own.
  const direct = useServer({}, { direct: true });

  /** A login sent without any User-Agent header (fetch always sends one). */
  function loginWithoutUserAgent(user: SignedUp): Promise<TokenPair> {
    const body = JSON.stringify({ email: user.email, password: user.password });
    return new Promise((resolve, reject) => {
      const req = request(`${direct().baseUrl}/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk)).on('end', () => resolve(JSON.parse(text) as TokenPair));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('is listed with user_agent null', async () => {
    const user = await signUp(direct());
    const pair = await loginWithoutUserAgent(user);
    const [newest] = await direct().client(pair).listSessions();
    expect(newest).toMatchObject({ current: true, user_agent: null });
  });
});

describe('GET /auth/sessions, one page at a time', () => {
  /** A user with `count` live sessions, the sign-up's the oldest. */
  async function withSessions(count: number) {
    const user = await signUp(server());
    for (let i = 1; i < count; i++) await loginAgain(user);
    return user;
  }
  const page = (user: SignedUp, query: { limit?: number; cursor?: string }) => ok(user.client.GET('/auth/sessions', { params: { query } }));

  it('follows next_cursor through every live session, newest first, each once, with null after the last page', async () => {
    const user = await withSessions(5);
    const all = await ok(user.client.GET('/auth/sessions'));
    expect(all).toMatchObject({ limit: 100, next_cursor: null });
    expect(all.items).toHaveLength(5);
    const walked = [];
    let cursor: string | undefined;
    do {
      const { items, next_cursor } = await page(user, { limit: 2, ...(cursor ? { cursor } : {}) });
      expect(items.length).toBeLessThanOrEqual(2);
      walked.push(...items);
      cursor = next_cursor ?? undefined;
    } while (cursor);
    expect(walked.map((s) => s.id)).toEqual(all.items.map((s) => s.id));
  });

  it('answers 422 naming /query/cursor for a cursor of another user', async () => {
    const other = await withSessions(2);
    const { next_cursor } = await page(other, { limit: 1 });
    const user = await withSessions(2);
    const { response, error } = await user.client.GET('/auth/sessions', { params: { query: { cursor: next_cursor! } } });
    expect(response.status).toBe(422);
    expect(error).toMatchObject({ errors: [{ pointer: '/query/cursor' }] });
  });

  it('gives the typed client every session, beyond one page', async () => {
    const user = await signUp(server());
    // More sessions than a page holds, as a server without a cap may have: made in SQL, each with a live refresh token.
    await server().knex.raw(
      `with made as (insert into sessions (user_id) select ?::uuid from generate_series(1, 120) returning id)
       insert into refresh_tokens (session_id, token_hash, expires_at) select id, 'x', now() + interval '1 hour' from made`,
      [user.id],
    );
    const sessions = await user.client.listSessions();
    expect(sessions).toHaveLength(121);
    expect(new Set(sessions.map((s) => s.id)).size).toBe(121);
  });
});

describe('MAX_SESSIONS_PER_USER', () => {
  const capped = useServer({ MAX_SESSIONS_PER_USER: '2' });
  const login = (user: SignedUp) => ok(capped().client().POST('/auth/login', { body: { email: user.email, password: user.password } }));
  const statusWith = async (pair: TokenPair) =>
    (await capped().client().GET('/auth/me', { headers: { Authorization: `Bearer ${pair.access_token}` } })).response.status;

  it('a login beyond the cap ends the least recently used session, and only that one', async () => {
    const user = await signUp(capped());
    const first = user.client.tokens!;
    const second = await login(user);
    // The first session is used again (a refresh): now the second is the least recently used.
    const refreshed = await ok(capped().client().POST('/auth/refresh', { body: { refresh_token: first.refresh_token } }));
    const third = await login(user);
    expect([await statusWith(refreshed), await statusWith(second), await statusWith(third)]).toEqual([200, 401, 200]);
    const refreshSecond = await capped().client().POST('/auth/refresh', { body: { refresh_token: second.refresh_token } });
    expect(refreshSecond.response.status).toBe(401);
    expect(await capped().client(third).listSessions()).toHaveLength(2);
  });

  it('leaves other users’ sessions alone', async () => {
    const bystander = await signUp(capped());
    const user = await signUp(capped());
    for (let i = 0; i < 3; i++) await login(user);
    expect(await statusWith(bystander.client.tokens!)).toBe(200);
  });
});
