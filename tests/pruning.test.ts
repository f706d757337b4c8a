import { describe, expect, it } from 'vitest';
import { pruneExpired } from '../src/auth/pruning.js';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

const server = useServer();

describe('pruning', () => {
  it('deletes expired refresh tokens and the sessions they leave empty, and keeps live ones', async () => {
    const expired = await signUp(server());
    const live = await signUp(server());
    const { knex } = server();
    const expiredSessions = knex('sessions').select('id').where('user_id', expired.id);
    await knex('refresh_tokens').whereIn('session_id', expiredSessions).update({ expires_at: knex.raw("now() - interval '1 minute'") });

    const pruned = await pruneExpired(knex);

    expect(pruned).toMatchObject({ tokens: 1, sessions: 1 });
    expect(await knex('sessions').where('user_id', expired.id)).toHaveLength(0);
    expect(await knex('sessions').where('user_id', live.id)).toHaveLength(1);
    expect((await live.client.GET('/auth/me')).response.status).toBe(200);
  });
});

describe('pruning idempotency keys', () => {
  it('deletes keys whose time has passed and keeps live ones', async () => {
    const user = await signUp(server());
    const create = (key: string) => user.client.POST('/tasks', { params: { header: { 'Idempotency-Key': key } }, body: { title: 'Write the report' } });
    await create('expired-key');
    await create('live-key');
    const { knex } = server();
    await knex('idempotency_keys').where({ user_id: user.id, key: 'expired-key' }).update({ expires_at: knex.raw("now() - interval '1 minute'") });

    expect(await pruneExpired(knex)).toMatchObject({ idempotencyKeys: 1 });
    expect(await knex('idempotency_keys').where('user_id', user.id).pluck('key')).toEqual(['live-key']);
  });
});
