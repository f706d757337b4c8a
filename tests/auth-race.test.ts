import { describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

// PGlite runs one query at a time, so only real PostgreSQL can show a race.
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const N = 10;

describe.skipIf(!onPostgres)('concurrent refreshes with one token (PostgreSQL only)', () => {
  const server = useServer();
  const refresh = (refresh_token: string) => server().client().POST('/auth/refresh', { body: { refresh_token } });

  it(`of ${N} simultaneous refreshes exactly one succeeds and none fails with 5xx`, async () => {
    const { client } = await signUp(server());
    const token = client.tokens!.refresh_token;
    const results = await Promise.all(Array.from({ length: N }, () => refresh(token)));
    const statuses = results.map((r) => r.response.status).sort();
    expect(statuses).toEqual([200, ...Array<number>(N - 1).fill(401)]);
  });

  it('afterwards at most one refresh token of that session works', async () => {
    const { client } = await signUp(server());
    const token = client.tokens!.refresh_token;
    const results = await Promise.all(Array.from({ length: N }, () => refresh(token)));
    const winners = results.filter((r) => r.response.status === 200).map((r) => r.data!.refresh_token);
    const live = await Promise.all([token, ...winners].map((t) => refresh(t)));
    expect(live.filter((r) => r.response.status === 200).length).toBeLessThanOrEqual(1);
  });
});

describe.skipIf(!onPostgres)('a client racing itself within REFRESH_REUSE_GRACE_SECONDS (PostgreSQL only)', () => {
  const server = useServer({ REFRESH_REUSE_GRACE_SECONDS: '30' });

  it('gets 401 for the losing refresh and keeps its session', async () => {
    const { client } = await signUp(server());
    const token = client.tokens!.refresh_token;
    const results = await Promise.all(Array.from({ length: N }, () => server().client().POST('/auth/refresh', { body: { refresh_token: token } })));
    const winner = results.find((r) => r.response.status === 200)!;
    expect(results.filter((r) => r.response.status === 401)).toHaveLength(N - 1);
    const next = await server().client().POST('/auth/refresh', { body: { refresh_token: winner.data!.refresh_token } });
    expect(next.response.status).toBe(200);
  });
});

describe('grace period on the embedded database too', () => {
  const server = useServer({ REFRESH_REUSE_GRACE_SECONDS: '30' });

  it('a replay within the grace period is 401 but does not revoke the session', async () => {
    const { client } = await signUp(server());
    const token = client.tokens!.refresh_token;
    const first = await server().client().POST('/auth/refresh', { body: { refresh_token: token } });
    const replay = await server().client().POST('/auth/refresh', { body: { refresh_token: token } });
    expect(replay.response.status).toBe(401);
    const next = await server().client().POST('/auth/refresh', { body: { refresh_token: first.data!.refresh_token } });
    expect(next.response.status).toBe(200);
  });
});

describe.skipIf(!onPostgres)('concurrent wrong passwords for one email (PostgreSQL only)', () => {
  const server = useServer({ LOGIN_MAX_FAILURES: '5' });

  it('let exactly the configured number through to a password check; the rest get 429', async () => {
    const { email } = await signUp(server());
    const results = await Promise.all(
      Array.from({ length: 30 }, () => server().client().POST('/auth/login', { body: { email, password: 'wrong-password' } })),
    );
    const count = (status: number) => results.filter((r) => r.response.status === status).length;
    expect([count(401), count(429)]).toEqual([5, 25]);
  });
});

describe.skipIf(!onPostgres)('logins with the old password racing a password change or a deactivation (PostgreSQL only)', () => {
  const ROUNDS = 6;
  // One address may have 8 password checks waiting (src/auth/passwords.ts): the logins and the
  // change's own check stay under that, or the change itself would be refused with 503.
  const LOGINS = 6;
  // A real bcrypt cost, so that password checks overlap the change; no lockout from the failures.
  const server = useServer({ BCRYPT_ROUNDS: '8', LOGIN_MAX_FAILURES: '1000' });
  const meWith = async (access_token: string) =>
    (await server().client().GET('/auth/me', { headers: { Authorization: `Bearer ${access_token}` } })).response.status;
  const refreshWith = async (refresh_token: string) => (await server().client().POST('/auth/refresh', { body: { refresh_token } })).response.status;

  /** Logs in with `password` LOGINS times, spread over the next tens of milliseconds. */
  const loginsDuring = (email: string, password: string) =>
    Array.from({ length: LOGINS }, async (_, i) => {
      await new Promise((resolve) => setTimeout(resolve, i * 4));
      return server().client().POST('/auth/login', { body: { email, password } });
    });

  /** The logins that got a token pair and whose session still works. */
  async function stillLive(logins: ReturnType<typeof loginsDuring>) {
    const pairs = (await Promise.all(logins)).flatMap((r) => (r.data ? [r.data] : []));
    const live = await Promise.all(pairs.map(async (p) => (await meWith(p.access_token)) !== 401 || (await refreshWith(p.refresh_token)) !== 401));
    return live.filter(Boolean).length;
  }

  it('after the change’s 204, no session made with the old password works', async () => {
    let live = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const { client, email, password } = await signUp(server());
      const logins = loginsDuring(email, password);
      const change = client.POST('/auth/password', { body: { current_password: password, new_password: 'a-brand-new-secret' } });
      expect((await change).response.status).toBe(204);
      live += await stillLive(logins);
    }
    expect(live).toBe(0);
  });

  it('after a deactivation and a reactivation, no session made before the reactivation works', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    let live = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const { id, email, password } = await signUp(server());
      const logins = loginsDuring(email, password);
      const deactivation = admin.client.PATCH('/users/{id}', { params: { path: { id } }, body: { is_active: false } });
      expect((await deactivation).response.status).toBe(200);
      await Promise.all(logins);
      expect((await admin.client.PATCH('/users/{id}', { params: { path: { id } }, body: { is_active: true } })).response.status).toBe(200);
      live += await stillLive(logins);
    }
    expect(live).toBe(0);
  });
});

describe.skipIf(!onPostgres)('concurrent logins of one account with the right password (PostgreSQL only)', () => {
  // A real bcrypt cost, so that checks overlap; at most 3 checks of one email and address at once.
  const server = useServer({ BCRYPT_ROUNDS: '8', LOGIN_MAX_FAILURES: '3', TRUSTED_PROXIES: 'loopback' });
  // 8 from each address: one address may have 8 password checks waiting (src/auth/passwords.ts).
  const ADDRESSES = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
  const LOGINS = 24;

  it(`of ${LOGINS} simultaneous logins from ${ADDRESSES.length} addresses every one gets 200`, async () => {
    const { email, password } = await signUp(server());
    const results = await Promise.all(
      Array.from({ length: LOGINS }, (_, i) =>
        server().client().POST('/auth/login', { body: { email, password }, headers: { 'X-Forwarded-For': ADDRESSES[i % ADDRESSES.length]! } }),
      ),
    );
    expect(results.map((r) => r.response.status)).toEqual(Array<number>(LOGINS).fill(200));
  });

  it('wrong guesses racing the right password from one address get at most the limit of password checks', async () => {
    const { email, password } = await signUp(server());
    const attempts = Array.from({ length: 8 }, (_, i) => (i === 7 ? password : 'wrong-password'));
    const results = await Promise.all(
      attempts.map((p) => server().client().POST('/auth/login', { body: { email, password: p }, headers: { 'X-Forwarded-For': '198.51.100.9' } })),
    );
    const count = (status: number) => results.filter((r) => r.response.status === status).length;
    expect(count(401)).toBeLessThanOrEqual(3);
    expect(count(401) + count(429) + count(200)).toBe(8);
  });
});

describe.skipIf(!onPostgres)('concurrent logins of one account beyond MAX_SESSIONS_PER_USER (PostgreSQL only)', () => {
  const CAP = 3;
  const server = useServer({ MAX_SESSIONS_PER_USER: String(CAP), TRUSTED_PROXIES: 'loopback' });

  it(`leave at most ${CAP} live sessions, every login answered 200`, async () => {
    const { id, email, password } = await signUp(server());
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        server().client().POST('/auth/login', { body: { email, password }, headers: { 'X-Forwarded-For': `198.51.100.${20 + (i % 2)}` } }),
      ),
    );
    expect(results.map((r) => r.response.status)).toEqual(Array<number>(16).fill(200));
    const live = await server()
      .knex('sessions')
      .where({ user_id: id })
      .whereNull('revoked_at')
      .whereExists((q) => q.from('refresh_tokens').whereRaw('refresh_tokens.session_id = sessions.id').whereNull('spent_at'));
    expect(live).toHaveLength(CAP);
  });
});
