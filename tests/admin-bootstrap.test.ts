import { describe, expect, it } from 'vitest';
import { ensureAdmin } from '../src/users/admin.js';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

const server = useServer();

describe('the first admin', () => {
  it('is created with the admin role when missing', async () => {
    expect(await ensureAdmin(server().knex, { email: 'Boss@Example.com', password: 'first-passphrase' }, 4)).toBe('created');
    const client = server().client();
    await client.login('boss@example.com', 'first-passphrase');
    expect((await client.GET('/auth/me')).data).toMatchObject({ email: 'boss@example.com', role: 'admin' });
  });

  it('is never overwritten: an existing account keeps its password and role, and says it is no admin', async () => {
    const { email, password } = await signUp(server());
    expect(await ensureAdmin(server().knex, { email, password: 'another-passphrase' }, 4)).toBe('exists-without-admin-role');
    const client = server().client();
    await client.login(email, password);
    expect((await client.GET('/auth/me')).data?.role).toBe('user');
  });
});

describe('the first admin’s e-mail address (1.2)', () => {
  it('counts as verified when the admin is created', async () => {
    expect(await ensureAdmin(server().knex, { email: 'verified-boss@example.com', password: 'first-passphrase' }, 4)).toBe('created');
    expect((await server().knex('users').where('email', 'verified-boss@example.com').first()).email_verified).toBe(true);
  });

  it('counts as verified for an existing admin made another way, but not for an account without the role', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    const user = await signUp(server());
    expect(await ensureAdmin(server().knex, { email: admin.email, password: 'another-passphrase' }, 4)).toBe('exists');
    expect(await ensureAdmin(server().knex, { email: user.email, password: 'another-passphrase' }, 4)).toBe('exists-without-admin-role');
    const verified = async (id: string) => (await server().knex('users').where({ id }).first()).email_verified;
    expect(await verified(admin.id)).toBe(true);
    expect(await verified(user.id)).toBe(false);
  });
});
