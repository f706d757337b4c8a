import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

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

  it('keeps the counters in the database, shared by every process', async () => {
    const { email } = await signUp(server());
    await login(email, 'wrong-password');
    const row = await server().knex('rate_limits').where('key', `login:${email}`).first();
    expect(row).toMatchObject({ hits: 1 });
  });
});

describe('request limiting per client address on /auth/*', () => {
  // Client addresses are what is tested: a proxy in between would be the only client.
  const server = useServer({ AUTH_RATE_LIMIT: '5' }, { direct: true });
  const health = (headers: Record<string, string> = {}) => server().fetch('/auth/me', { headers });

  it('answers 429 with Retry-After past the limit, and X-Forwarded-For does not reset it', async () => {
    for (let i = 0; i < 5; i++) await health();
    const res = await health({ 'X-Forwarded-For': '203.0.113.7' });
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

  it('counts each forwarded client address separately', async () => {
    const from = (ip: string) => server().fetch('/auth/me', { headers: { 'X-Forwarded-For': ip } });
    await from('198.51.100.1');
    await from('198.51.100.1');
    expect((await from('198.51.100.1')).status).toBe(429);
    expect((await from('198.51.100.2')).status).toBe(401);
  });
});
