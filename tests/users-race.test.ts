import { describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';
import { signUp, type SignedUp } from './support/users.js';

// PGlite runs one query at a time, so only real PostgreSQL can show a race. (Without a race the rule
// cannot be broken: the caller is an active admin, checked in the database, and cannot demote themself.)
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const ROUNDS = 8;

describe.skipIf(!onPostgres)('two admins demoting or deactivating each other at the same moment (PostgreSQL only)', () => {
  const server = useServer();
  const activeAdmins = async () => Number((await server().knex('users').where({ role: 'admin', is_active: true }).count({ n: '*' }).first())!.n);

  /** Two fresh admins, and nobody else with the role. */
  async function onlyAdmins(): Promise<[SignedUp, SignedUp]> {
    const [a, b] = [await signUp(server(), { role: 'admin' }), await signUp(server(), { role: 'admin' })];
    await server().knex('users').whereNotIn('id', [a.id, b.id]).update({ role: 'user' });
    return [a, b];
  }

  it.each([
    ['demote', { role: 'user' as const }],
    ['deactivate', { is_active: false }],
  ])('when they %s each other, at most one succeeds, the other is refused, and an active admin is left', async (_verb, body) => {
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = await onlyAdmins();
      const results = await Promise.all([
        a.client.PATCH('/users/{id}', { params: { path: { id: b.id } }, body }),
        b.client.PATCH('/users/{id}', { params: { path: { id: a.id } }, body }),
      ]);
      const statuses = results.map((r) => r.response.status).sort();
      expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(1);
      expect(statuses.every((s) => [200, 401, 403, 409].includes(s))).toBe(true);
      expect(await activeAdmins()).toBe(1);
    }
  });
});

