import { describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { problemOf, useServer } from './support/server.js';
import { signUp } from './support/users.js';

const server = useServer();
const password = 'correct-horse-battery';
let n = 0;
const freshEmail = () => `someone-${Date.now()}-${n++}@example.com`;

describe('POST /auth/register', () => {
  it('creates a user with the user role and never returns a password hash', async () => {
    const email = freshEmail();
    const { data, response } = await server().client().POST('/auth/register', { body: { email, password } });
    expect(response.status).toBe(201);
    expect(data).toEqual({ id: expect.any(String), email, role: 'user', is_active: true, email_verified: false, created_at: expect.any(String) });
    expect(JSON.stringify(data)).not.toMatch(/hash|\$2b\$/);
  });

  it('stores the email in lower case', async () => {
    const email = freshEmail();
    const user = await ok(server().client().POST('/auth/register', { body: { email: email.toUpperCase(), password } }));
    expect(user.email).toBe(email);
  });

  it('refuses a case-variant duplicate email with 409', async () => {
    const email = freshEmail();
    await ok(server().client().POST('/auth/register', { body: { email, password } }));
    const { response, error } = await server().client().POST('/auth/register', { body: { email: email.toUpperCase(), password } });
    expect(response.status).toBe(409);
    expect(error).toMatchObject({ type: '/problems/conflict', status: 409 });
  });

  it('refuses a role in the body with 422 (no mass assignment)', async () => {
    const res = await server().fetch('/auth/register', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: freshEmail(), password, role: 'admin' }),
    });
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors).toEqual([{ pointer: '/body/role', message: 'is not allowed' }]);
  });

  it('refuses a 73-byte password instead of truncating it', async () => {
    const { response, error } = await server().client().POST('/auth/register', { body: { email: freshEmail(), password: `${'é'.repeat(36)}x` } });
    expect(response.status).toBe(422);
    expect(error?.errors).toEqual([{ pointer: '/body/password', message: 'must be at most 72 bytes of UTF-8' }]);
  });

  it('accepts a password of exactly 72 bytes', async () => {
    const { response } = await server().client().POST('/auth/register', { body: { email: freshEmail(), password: 'é'.repeat(36) } });
    expect(response.status).toBe(201);
  });

  it('refuses a password shorter than 8 characters', async () => {
    const { response, error } = await server().client().POST('/auth/register', { body: { email: freshEmail(), password: 'short' } });
    expect(response.status).toBe(422);
    expect(error?.errors?.[0]?.pointer).toBe('/body/password');
  });

  it('refuses an email over 254 characters', async () => {
    const email = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`;
    const { response } = await server().client().POST('/auth/register', { body: { email, password } });
    expect(response.status).toBe(422);
  });

  it('refuses a NUL character in the password', async () => {
    const { response } = await server().client().POST('/auth/register', { body: { email: freshEmail(), password: 'abcdefgh\u0000ijk' } });
    expect(response.status).toBe(422);
  });
});

describe('POST /auth/login', () => {
  it('returns a bearer token pair', async () => {
    const email = freshEmail();
    await ok(server().client().POST('/auth/register', { body: { email, password } }));
    const pair = await ok(server().client().POST('/auth/login', { body: { email, password } }));
    expect(pair).toEqual({ access_token: expect.any(String), refresh_token: expect.any(String), token_type: 'bearer', expires_in: 900 });
  });

  it('answers with Cache-Control: no-store, so no cache keeps the tokens', async () => {
    const { email } = await signUp(server());
    const { response } = await server().client().POST('/auth/login', { body: { email, password } });
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('accepts the email in any case', async () => {
    const email = freshEmail();
    await ok(server().client().POST('/auth/register', { body: { email, password } }));
    const { response } = await server().client().POST('/auth/login', { body: { email: email.toUpperCase(), password } });
    expect(response.status).toBe(200);
  });

  it('gives an unknown email and a wrong password the same 401 body', async () => {
    const { email } = await signUp(server());
    const wrongPassword = await server().client().POST('/auth/login', { body: { email, password: 'not-the-password' } });
    const unknownEmail = await server().client().POST('/auth/login', { body: { email: freshEmail(), password } });
    expect(wrongPassword.response.status).toBe(401);
    expect(unknownEmail.response.status).toBe(401);
    expect(wrongPassword.error).toEqual(unknownEmail.error);
    expect(wrongPassword.response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('refuses a password whose first 72 bytes are right but which is longer', async () => {
    const email = freshEmail();
    const exact = 'p'.repeat(72);
    await ok(server().client().POST('/auth/register', { body: { email, password: exact } }));
    const { response } = await server().client().POST('/auth/login', { body: { email, password: `${exact}extra` } });
    expect(response.status).toBe(401);
  });

  it('gives a deactivated user 403 after a correct password', async () => {
    const { email, id } = await signUp(server());
    await server().knex('users').where({ id }).update({ is_active: false });
    const { response, error } = await server().client().POST('/auth/login', { body: { email, password } });
    expect(response.status).toBe(403);
    expect(error?.status).toBe(403);
  });

  it('gives a deactivated user the same 401 as anyone for a wrong password', async () => {
    const { email, id } = await signUp(server());
    await server().knex('users').where({ id }).update({ is_active: false });
    const { response } = await server().client().POST('/auth/login', { body: { email, password: 'wrong-password' } });
    expect(response.status).toBe(401);
  });
});

describe('GET /auth/me', () => {
  it('returns the caller', async () => {
    const { client, id, email } = await signUp(server());
    expect(await ok(client.GET('/auth/me'))).toMatchObject({ id, email, role: 'user', is_active: true });
  });

  it('is 401 without a token', async () => {
    const { response } = await server().client().GET('/auth/me');
    expect(response.status).toBe(401);
  });
});

describe('POST /auth/password', () => {
  it('changes the password: the new one logs in, the old one does not', async () => {
    const { client, email } = await signUp(server());
    const { response } = await client.POST('/auth/password', { body: { current_password: password, new_password: 'a-brand-new-secret' } });
    expect(response.status).toBe(204);
    expect((await server().client().POST('/auth/login', { body: { email, password } })).response.status).toBe(401);
    expect((await server().client().POST('/auth/login', { body: { email, password: 'a-brand-new-secret' } })).response.status).toBe(200);
  });

  it('refuses a wrong current password with 401 and keeps the password', async () => {
    const { client, email } = await signUp(server());
    const { response, error } = await client.POST('/auth/password', { body: { current_password: 'not-my-password', new_password: 'a-brand-new-secret' } });
    expect(response.status).toBe(401);
    expect(error?.type).toBe('/problems/invalid-credentials');
    expect((await server().client().POST('/auth/login', { body: { email, password } })).response.status).toBe(200);
  });

  it('ends every other session of the caller and keeps this one', async () => {
    const { client, email } = await signUp(server());
    const other = server().client();
    await other.login(email, password);
    await ok(client.POST('/auth/password', { body: { current_password: password, new_password: 'a-brand-new-secret' } }));
    expect((await client.GET('/auth/me')).response.status).toBe(200);
    const otherAccess = other.tokens!;
    other.setTokens(undefined);
    expect((await server().client(otherAccess).GET('/auth/me')).response.status).toBe(401);
  });

  it('refuses a new password over 72 bytes', async () => {
    const { client } = await signUp(server());
    const { response, error } = await client.POST('/auth/password', { body: { current_password: password, new_password: `${'é'.repeat(36)}x` } });
    expect(response.status).toBe(422);
    expect(error?.errors?.[0]?.pointer).toBe('/body/new_password');
  });
});
