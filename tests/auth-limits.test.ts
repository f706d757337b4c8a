import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { useServer } from './support/server.js';
import { createTask } from './support/tasks.js';
import { signUp } from './support/users.js';

// PGlite keeps its limits in memory (one process); only PostgreSQL has a table to look at.
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const from = (address: string) => ({ 'X-Forwarded-For': address });

describe('failed-login limiting per email', () => {
  const server = useServer({ LOGIN_MAX_FAILURES: '3', LOGIN_WINDOW_SECONDS: '2' });
  const login = (email: string, password: string) => server().client().POST('/auth/login', { body: { email, password } });

  it('answers 429 with Retry-After after the configured failures, even for the right password', async () => {
    const { email, password } = await signUp(server());
    for (let i = 0; i < 3; i++) expect((await login(email, 'wrong-password')).response.status).toBe(401);
    const { response, error } = await login(email, password);
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(error).toMatchObject({ type: '/problems/too-many-requests', status: 429 });
  });

  it('lets the right password in again once the window has passed', async () => {
    const { email, password } = await signUp(server());
    for (let i = 0; i < 3; i++) await login(email, 'wrong-password');
    expect((await login(email, password)).response.status).toBe(429);
    await sleep(2100);
    expect((await login(email, password)).response.status).toBe(200);
  });

  it('clears the count when the right password is given', async () => {
    const { email, password } = await signUp(server());
    for (let i = 0; i < 2; i++) await login(email, 'wrong-password');
    expect((await login(email, password)).response.status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await login(email, 'wrong-password')).response.status).toBe(401);
  });

  it('counts per email: another account is not affected', async () => {
    const victim = await signUp(server());
    const bystander = await signUp(server());
    for (let i = 0; i < 3; i++) await login(victim.email, 'wrong-password');
    expect((await login(bystander.email, bystander.password)).response.status).toBe(200);
  });

  it('counts an email in any case as the same account', async () => {
    const { email, password } = await signUp(server());
    for (let i = 0; i < 3; i++) await login(i % 2 ? email.toUpperCase() : email, 'wrong-password');
    expect((await login(email, password)).response.status).toBe(429);
  });

  it('counts wrong current passwords on /auth/password against the same limit', async () => {
    const { client, email, password } = await signUp(server());
    for (let i = 0; i < 3; i++) {
      const { response } = await client.POST('/auth/password', { body: { current_password: 'wrong-password', new_password: 'a-brand-new-secret' } });
      expect(response.status).toBe(401);
    }
    expect((await client.POST('/auth/password', { body: { current_password: password, new_password: 'a-brand-new-secret' } })).response.status).toBe(429);
    expect((await login(email, password)).response.status).toBe(429);
  });

  it('takes an email of 254 characters as a key like any other', async () => {
    const email = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    expect(email).toHaveLength(254);
    expect((await login(email, 'wrong-password')).response.status).toBe(401);
  });

  it('keeps the counts in the database, shared by every process', async () => {
    const { email } = await signUp(server());
    await login(email, 'wrong-password');
    const rows = await server().knex('login_failures').whereLike('key', `%${email}`).orderBy('key').select('key', 'failures', 'pending');
    expect(rows).toEqual([
      { key: `login-account:${email}`, failures: 1, pending: 0 },
      { key: `login-address:127.0.0.1 ${email}`, failures: 1, pending: 0 },
    ]);
  });
});

describe('failed-login limiting per email and client address', () => {
  const server = useServer({ LOGIN_MAX_FAILURES: '3', LOGIN_ACCOUNT_MAX_FAILURES: '5', TRUSTED_PROXIES: 'loopback' });
  const login = (address: string, email: string, password: string) =>
    server().client().POST('/auth/login', { body: { email, password }, headers: from(address) });

  it('lets the owner in from another address after someone else’s guesses locked theirs', async () => {
    const { email, password } = await signUp(server());
    for (let i = 0; i < 3; i++) expect((await login('198.51.100.10', email, 'wrong-password')).response.status).toBe(401);
    expect((await login('198.51.100.10', email, password)).response.status).toBe(429);
    expect((await login('198.51.100.11', email, password)).response.status).toBe(200);
  });

  it('answers 429 to every address once the account’s ceiling is reached, the right password too', async () => {
    const { email, password } = await signUp(server());
    // 3 + 2 wrong passwords: under the limit of each address, at the account's ceiling of 5.
    for (const address of ['198.51.100.20', '198.51.100.20', '198.51.100.20', '198.51.100.21', '198.51.100.21']) {
      expect((await login(address, email, 'wrong-password')).response.status).toBe(401);
    }
    const { response, error } = await login('198.51.100.22', email, password);
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(error).toMatchObject({ detail: 'Too many failed password attempts for this account; try again later.' });
  });

  it('does not clear the account’s count when the right password is given', async () => {
    const { email, password } = await signUp(server());
    for (let i = 0; i < 3; i++) await login('198.51.100.30', email, 'wrong-password');
    expect((await login('198.51.100.31', email, password)).response.status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await login('198.51.100.32', email, 'wrong-password')).response.status).toBe(401);
    expect((await login('198.51.100.33', email, password)).response.status).toBe(429);
  });
});

describe('request limiting per client address on /auth/*', () => {
  // Client addresses are what is tested: a proxy in between would be the only client.
  const server = useServer({ AUTH_RATE_LIMIT: '5' }, { direct: true });
  const me = (headers: Record<string, string> = {}) => server().fetch('/auth/me', { headers });

  it('answers 429 with Retry-After past the limit, and X-Forwarded-For does not reset it', async () => {
    for (let i = 0; i < 5; i++) await me();
    const res = await me(from('203.0.113.7'));
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('does not limit operations outside /auth', async () => {
    expect((await server().fetch('/healthz')).status).toBe(200);
  });
});

describe('request limiting behind a trusted proxy', () => {
  const server = useServer({ AUTH_RATE_LIMIT: '2', TRUSTED_PROXIES: 'loopback' }, { direct: true });
  const me = (address: string) => server().fetch('/auth/me', { headers: from(address) });
  /** Spends the limit from `first`, then tells whether `second` is limited with it. */
  const sharesLimit = async (first: string, second: string) => {
    await me(first);
    await me(first);
    expect((await me(first)).status).toBe(429);
    return (await me(second)).status === 429;
  };

  it('counts each forwarded client address separately', async () => {
    expect(await sharesLimit('198.51.100.1', '198.51.100.2')).toBe(false);
  });

  it('counts IPv6 clients per /64 prefix: another address in the same /64 shares the limit', async () => {
    expect(await sharesLimit('2001:db8:1:1::1', '2001:db8:1:1:ffff:ffff:ffff:fffe')).toBe(true);
  });

  it('gives another /64 a limit of its own', async () => {
    expect(await sharesLimit('2001:db8:2:1::1', '2001:db8:2:2::1')).toBe(false);
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', async () => {
    expect(await sharesLimit('::ffff:198.51.100.9', '198.51.100.9')).toBe(true);
  });

  it.skipIf(!onPostgres)('refuses requests over the limit without writing to the database (PostgreSQL)', async () => {
    const address = '198.51.100.77';
    for (let i = 0; i < 3; i++) await me(address);
    const points = async () => (await server().knex('rate_limiter').where('key', `address:${address}`).first())?.points;
    const before = await points();
    const statuses = await Promise.all(Array.from({ length: 20 }, async () => (await me(address)).status));
    expect(statuses.every((status) => status === 429)).toBe(true);
    expect(await points()).toBe(before);
  });
});

describe('password checks per client address', () => {
  // The two signUps below come from 127.0.0.1 and take 4 checks of its own.
  const server = useServer({ PASSWORD_RATE_LIMIT: '4', TRUSTED_PROXIES: 'loopback' }, { direct: true });

  it('counts logins, registrations and password changes together: past the limit, 429 with Retry-After', async () => {
    const user = await signUp(server());
    const headers = from('198.51.100.20');
    const anyone = server().client();
    await anyone.POST('/auth/login', { body: { email: user.email, password: 'wrong-password' }, headers });
    await anyone.POST('/auth/register', { body: { email: `x-${user.email}`, password: user.password }, headers });
    await ok(user.client.POST('/auth/password', { body: { current_password: user.password, new_password: 'a-brand-new-secret' }, headers }));
    await anyone.POST('/auth/login', { body: { email: user.email, password: 'wrong-password' }, headers });
    const { response, error } = await anyone.POST('/auth/login', { body: { email: user.email, password: 'a-brand-new-secret' }, headers });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(error?.detail).toMatch(/password checks/);
  });

  it('leaves other addresses alone', async () => {
    const user = await signUp(server());
    for (let i = 0; i < 5; i++) await server().client().POST('/auth/login', { body: { email: user.email, password: 'wrong-password' }, headers: from('198.51.100.21') });
    const { response } = await server().client().POST('/auth/login', { body: { email: user.email, password: user.password }, headers: from('198.51.100.22') });
    expect(response.status).toBe(200);
  });
});

describe('task writes per user', () => {
  const server = useServer({ USER_WRITE_RATE_LIMIT: '3' });

  it('counts creates, updates and deletes together: past the limit, 429 with Retry-After', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    await ok(user.client.PUT('/tasks/{id}', { params: { path: { id: task.id } }, body: { status: 'done' } }));
    await user.client.DELETE('/tasks/{id}', { params: { path: { id: task.id } } });
    const { response, error } = await user.client.POST('/tasks', { body: { title: 'One too many' } });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(error?.type).toBe('/problems/too-many-requests');
  });

  it('does not count reads', async () => {
    const user = await signUp(server());
    for (let i = 0; i < 5; i++) await ok(user.client.GET('/tasks'));
    expect((await user.client.POST('/tasks', { body: { title: 'Still allowed' } })).response.status).toBe(201);
  });

  it('counts per user: another user may still write', async () => {
    const busy = await signUp(server());
    for (let i = 0; i < 3; i++) await createTask(busy);
    expect((await busy.client.POST('/tasks', { body: { title: 'Refused' } })).response.status).toBe(429);
    const other = await signUp(server());
    expect((await other.client.POST('/tasks', { body: { title: 'Accepted' } })).response.status).toBe(201);
  });
});

describe('a limit set to 0', () => {
  const server = useServer({ USER_WRITE_RATE_LIMIT: '0', PASSWORD_RATE_LIMIT: '0', AUTH_RATE_LIMIT: '0' });

  it('is off, rather than allowing nothing', async () => {
    const user = await signUp(server()); // a registration and a login: /auth requests and password checks
    expect((await user.client.POST('/tasks', { body: { title: 'Unlimited' } })).response.status).toBe(201);
  });
});
