import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { asUser } from './support/tasks.js';
import { useServer } from './support/server.js';
import { signUp, type SignedUp } from './support/users.js';

const server = useServer();

const patchUser = (admin: SignedUp, id: string, body: { role?: 'user' | 'admin'; is_active?: boolean }) =>
  admin.client.PATCH('/users/{id}', { params: { path: { id } }, body });
const getUser = (caller: SignedUp, id: string) => caller.client.GET('/users/{id}', { params: { path: { id } } });

describe('user administration is for admins', () => {
  it('refuses GET /users to a user with 403', async () => {
    const user = await signUp(server());
    const { response, error } = await user.client.GET('/users');
    expect(response.status).toBe(403);
    expect(error?.type).toBe('/problems/forbidden');
  });

  it('refuses GET /users/{id} to a user with 403, even for themself', async () => {
    const user = await signUp(server());
    expect((await getUser(user, user.id)).response.status).toBe(403);
  });

  it('refuses PATCH /users/{id} to a user with 403, so nobody promotes themself', async () => {
    const user = await signUp(server());
    expect((await patchUser(user, user.id, { role: 'admin' })).response.status).toBe(403);
    expect((await ok(user.client.GET('/auth/me'))).role).toBe('user');
  });
});

describe('listing users', () => {
  it('gives an admin every user, oldest first, ties broken by id', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    await signUp(server());
    const page = await ok(admin.client.GET('/users', { params: { query: { limit: 100 } } }));
    const key = (u: { created_at: string; id: string }) => `${u.created_at} ${u.id}`;
    expect(page.items.map(key)).toEqual(page.items.map(key).sort());
    expect(page).toMatchObject({ total: page.items.length, limit: 100, offset: 0 });
  });

  it('pages through users without gaps or repeats', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    for (let i = 0; i < 3; i++) await signUp(server());
    const all = await ok(admin.client.GET('/users', { params: { query: { limit: 100 } } }));
    const walked: string[] = [];
    for (let offset = 0; offset < all.total; offset += 2) {
      const page = await ok(admin.client.GET('/users', { params: { query: { limit: 2, offset } } }));
      walked.push(...page.items.map((u) => u.id));
    }
    expect(walked).toEqual(all.items.map((u) => u.id));
  });

  it('never shows a password hash', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    const page = await ok(admin.client.GET('/users'));
    for (const user of page.items) expect(Object.keys(user).sort()).toEqual(['created_at', 'email', 'email_verified', 'id', 'is_active', 'role']);
  });

  it('refuses limit=101 with 422 naming /query/limit', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    const { response, error } = await admin.client.GET('/users', { params: { query: { limit: 101 } } });
    expect(response.status).toBe(422);
    expect(error?.errors?.map((e) => e.pointer)).toEqual(['/query/limit']);
  });
});

describe('reading a user', () => {
  it('gives an admin the user', async () => {
    const [admin, user] = [await signUp(server(), { role: 'admin' }), await signUp(server())];
    expect(await ok(getUser(admin, user.id))).toMatchObject({ id: user.id, email: user.email, role: 'user', is_active: true });
  });

  it('answers 404 for an unknown id', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    expect((await getUser(admin, randomUUID())).response.status).toBe(404);
  });
});

describe('changing a user', () => {
  it('answers 404 for an unknown id', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    const { response, error } = await patchUser(admin, randomUUID(), { is_active: false });
    expect(response.status).toBe(404);
    expect(error?.type).toBe('/problems/not-found');
  });

  it('refuses an empty body with 422', async () => {
    const [admin, user] = [await signUp(server(), { role: 'admin' }), await signUp(server())];
    expect((await patchUser(admin, user.id, {})).response.status).toBe(422);
  });

  it.each(['email', 'id', 'created_at'])('refuses %s in the body with 422', async (field) => {
    const [admin, user] = [await signUp(server(), { role: 'admin' }), await signUp(server())];
    const res = await server().fetch(`/users/${user.id}`, {
      method: 'PATCH',
      headers: asUser(admin, { 'Content-Type': 'application/json' }),
      body: JSON.stringify({ role: 'admin', [field]: 'x' }),
    });
    expect(res.status).toBe(422);
    expect((await ok(getUser(admin, user.id))).role).toBe('user');
  });

  it("promotes a user, whose existing access token reaches admin operations at once", async () => {
    const [admin, user] = [await signUp(server(), { role: 'admin' }), await signUp(server())];
    expect(await ok(patchUser(admin, user.id, { role: 'admin' }))).toMatchObject({ id: user.id, role: 'admin' });
    expect((await user.client.GET('/users')).response.status).toBe(200);
  });

  it('demotes another admin, whose existing access token loses admin operations at once', async () => {
    const [admin, other] = [await signUp(server(), { role: 'admin' }), await signUp(server(), { role: 'admin' })];
    await ok(patchUser(admin, other.id, { role: 'user' }));
    expect((await other.client.GET('/users')).response.status).toBe(403);
  });

  it('refuses to let an admin demote themself with 409', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    const { response, error } = await patchUser(admin, admin.id, { role: 'user' });
    expect(response.status).toBe(409);
    expect(error?.type).toBe('/problems/conflict');
    expect((await ok(getUser(admin, admin.id))).role).toBe('admin');
  });

  it('refuses to let an admin deactivate themself with 409', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    expect((await patchUser(admin, admin.id, { is_active: false })).response.status).toBe(409);
    expect((await ok(getUser(admin, admin.id))).is_active).toBe(true);
  });

  it('refuses self-demotion with 409 when the id is written in upper case', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    expect((await patchUser(admin, admin.id.toUpperCase(), { role: 'user' })).response.status).toBe(409);
  });

  it('lets an admin confirm their own role and activation', async () => {
    const admin = await signUp(server(), { role: 'admin' });
    expect(await ok(patchUser(admin, admin.id, { role: 'admin', is_active: true }))).toMatchObject({ role: 'admin', is_active: true });
  });
});

describe('deactivating a user', () => {
  it('answers 200 with the user marked inactive', async () => {
    const [admin, user] = [await signUp(server(), { role: 'admin' }), await signUp(server())];
    expect(await ok(patchUser(admin, user.id, { is_active: false }))).toMatchObject({ id: user.id, is_active: false });
  });

  it('stops their unexpired access token at once', async () => {
    const [admin, user] = [await signUp(server(), { role: 'admin' }), await signUp(server())];
    const { access_token } = user.client.tokens!;
    await ok(patchUser(admin, user.id, { is_active: false }));
    const { response } = await server().client().GET('/auth/me', { headers: { Authorization: `Bearer ${access_token}` } });
    expect(response.status).toBe(401);
  });

  it('ends every session, so their refresh tokens fail too', async () => {
    const [admin, user] = [await signUp(server(), { role: 'admin' }), await signUp(server())];
    const second = server().client();
    await second.login(user.email, user.password);
    await ok(patchUser(admin, user.id, { is_active: false }));
    for (const refresh_token of [user.client.tokens!.refresh_token, second.tokens!.refresh_token]) {
      expect((await server().client().POST('/auth/refresh', { body: { refresh_token } })).response.status).toBe(401);
    }
  });

  it('keeps the sessions ended after reactivation: the user logs in again', async () => {
    const [admin, user] = [await signUp(server(), { role: 'admin' }), await signUp(server())];
    const { access_token } = user.client.tokens!;
    await ok(patchUser(admin, user.id, { is_active: false }));
    await ok(patchUser(admin, user.id, { is_active: true }));
    const { response } = await server().client().GET('/auth/me', { headers: { Authorization: `Bearer ${access_token}` } });
    expect(response.status).toBe(401);
    await user.client.login(user.email, user.password);
    expect((await user.client.GET('/auth/me')).response.status).toBe(200);
  });
});
