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

  it('deletes ended sessions, and keeps live ones', async () => {
    const user = await signUp(server());
    const { knex } = server();
    await user.client.login(user.email, user.password);
    await user.client.logout();
    await pruneExpired(knex);
    // The sign-up's session is left.
    expect(await knex('sessions').where('user_id', user.id).pluck('revoked_at')).toEqual([null]);
  });

  it('deletes failed-login windows that started over a day ago, and keeps the others', async () => {
    const { knex } = server();
    await knex('login_failures').insert([
      { key: 'login-account:old@pruning.example', failures: 3, window_started_at: knex.raw("now() - interval '25 hours'") },
      { key: 'login-account:new@pruning.example', failures: 3, window_started_at: knex.raw("now() - interval '1 hour'") },
    ]);
    await pruneExpired(knex);
    expect(await knex('login_failures').whereLike('key', 'login-account:%@pruning.example').pluck('key')).toEqual(['login-account:new@pruning.example']);
  });

  it('deletes rate-limit windows that ended over an hour ago, and keeps the others', async () => {
    const { knex } = server();
    const hour = 60 * 60 * 1000;
    await knex('rate_limiter').insert([
      { key: 'address:198.51.100.1', points: 3, expire: Date.now() - 2 * hour },
      { key: 'address:198.51.100.2', points: 3, expire: Date.now() - 60_000 },
      { key: 'address:198.51.100.3', points: 3, expire: Date.now() + 60_000 },
    ]);
    await pruneExpired(knex);
    const left = await knex('rate_limiter').whereLike('key', 'address:198.51.100.%').orderBy('key').pluck('key');
    expect(left).toEqual(['address:198.51.100.2', 'address:198.51.100.3']);
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

describe('pruning the mail outbox', () => {
  it('deletes mails sent or given up over a week ago, and keeps newer ones and every queued one', async () => {
    const user = await signUp(server());
    const { knex } = server();
    const at = (days: number) => knex.raw(`now() - make_interval(days => ${days})`);
    const mail = (state: string, finishedDaysAgo: number | null) => ({
      user_id: user.id,
      kind: 'password_reset',
      recipient: user.email,
      link_expires_at: at(0),
      state,
      finished_at: finishedDaysAgo === null ? null : at(finishedDaysAgo),
      // Not due, so that the worker leaves the queued one alone.
      next_attempt_at: knex.raw("now() + interval '1 hour'"),
    });
    await knex('mail_outbox').insert([mail('sent', 8), mail('failed', 8), mail('sent', 6), mail('queued', null)]);
    expect(await pruneExpired(knex)).toMatchObject({ mails: 2 });
    const left = await knex('mail_outbox').where({ user_id: user.id, kind: 'password_reset' }).orderBy('id').pluck('state');
    expect(left).toEqual(['sent', 'queued']);
  });
});
