// Delivery through the outbox: nothing lost, nothing sent twice, whatever the SMTP server does.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { createOutbox } from '../src/mail/outbox.js';
import { createSeal } from '../src/mail/seal.js';
import { DEFAULT_WORKER_OPTIONS, retryDelayMs } from '../src/mail/worker.js';
import { useServer, type TestServer } from './support/server.js';
import { FAST_MAIL, linkIn, startSmtp } from './support/smtp.js';
import { signUp } from './support/users.js';

const smtp = await startSmtp();
afterAll(() => smtp.stop());
afterEach(async () => {
  smtp.answer = () => undefined;
  await smtp.start().catch(() => undefined); // up again if a test left it down
});

const SECRET_KEY = 'a-test-secret-key-of-at-least-32-characters';
const env = {
  SECRET_KEY,
  SMTP_URL: smtp.url,
  MAIL_FROM: 'Task Management <no-reply@tasks.example.com>',
  PASSWORD_RESET_URL: 'https://app.example.com/reset-password?token={token}',
  METRICS_PORT: '0',
};
const server = useServer(env, { mailWorker: FAST_MAIL });
const RESET_SUBJECT = 'Reset your Task Management password';
const resetsTo = (email: string) => smtp.delivered.filter((m) => m.envelope.to.includes(email) && m.subject === RESET_SUBJECT);

/** The account's password reset mail in the outbox. */
const resetRow = (s: TestServer, userId: string) => s.knex('mail_outbox').where({ user_id: userId, kind: 'password_reset' }).first();

/** A signed-up user whose verification mail has gone, so that only what the test does is in flight. */
async function quietUser() {
  const user = await signUp(server());
  await expect.poll(async () => (await server().knex('mail_outbox').where({ user_id: user.id, state: 'queued' })).length, { timeout: 20_000 }).toBe(0);
  return user;
}

async function requestReset(email: string) {
  expect((await server().client().POST('/auth/password-reset', { body: { email } })).response.status).toBe(202);
}

/** Long enough for the worker to have sent a duplicate, were it going to: many polls and retries. */
const settle = () => sleep(20 * FAST_MAIL.pollMs);

async function metric(name: string, kind = 'password_reset'): Promise<number> {
  const text = await (await fetch(server().metricsUrl!)).text();
  const match = new RegExp(`^${name}\\{mail_kind="${kind}"\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

describe('the mail outbox', () => {
  it('keeps a mail while the SMTP server is down, and delivers it once when the server comes back', async () => {
    const { email, id } = await quietUser();
    await smtp.stop();
    await requestReset(email);
    // Tried, refused at the door, and scheduled again, more than once.
    await expect.poll(async () => (await resetRow(server(), id))?.attempts ?? 0, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    const waiting = await resetRow(server(), id);
    expect(waiting).toMatchObject({ state: 'queued', last_error: expect.stringMatching(/ECONNREFUSED|ESOCKET|ECONNECTION/) });
    expect(resetsTo(email)).toEqual([]);

    await smtp.start();
    await expect.poll(() => resetsTo(email).length, { timeout: 20_000 }).toBe(1);
    await expect.poll(async () => (await resetRow(server(), id)).state).toBe('sent');
    await settle();
    expect(resetsTo(email)).toHaveLength(1);
    // A sent mail keeps no live link.
    expect(await resetRow(server(), id)).toMatchObject({ sealed_link: null, last_error: null, finished_at: expect.any(Date) });
  });

  it('retries a mail the server answers 4xx, and delivers it once when the server takes it', async () => {
    const { email, id } = await quietUser();
    const retriedBefore = await metric('mail_retries_total');
    let refusals = 0;
    smtp.answer = (mail) => (mail.envelope.to.includes(email) && refusals++ === 0 ? 451 : undefined);
    await requestReset(email);
    await expect.poll(() => resetsTo(email).length, { timeout: 20_000 }).toBe(1);
    await expect.poll(async () => (await resetRow(server(), id)).state).toBe('sent');
    await settle();
    expect(resetsTo(email)).toHaveLength(1);
    expect(refusals).toBe(2);
    expect((await resetRow(server(), id)).attempts).toBe(2);
    expect(await metric('mail_retries_total')).toBeGreaterThanOrEqual(retriedBefore + 1);
  });

  it('gives up a mail the server answers 5xx, at once and for good', async () => {
    const { email, id } = await quietUser();
    const failedBefore = await metric('mail_failed_total');
    let tries = 0;
    smtp.answer = (mail) => (mail.envelope.to.includes(email) ? (tries++, 550) : undefined);
    await requestReset(email);
    await expect.poll(async () => (await resetRow(server(), id))?.state, { timeout: 20_000 }).toBe('failed');
    await settle();
    expect(tries).toBe(1);
    expect(resetsTo(email)).toEqual([]);
    expect(await resetRow(server(), id)).toMatchObject({ attempts: 1, sealed_link: null, last_error: expect.stringContaining('550') });
    expect(await metric('mail_failed_total')).toBe(failedBefore + 1);
  });

  it('gives up a mail retried past its time (an hour, and while its link works)', async () => {
    const { email, id } = await quietUser();
    smtp.answer = (mail) => (mail.envelope.to.includes(email) ? 421 : undefined);
    const outbox = server().knex('mail_outbox');
    const seal = createSeal(SECRET_KEY);
    // As it would be after an hour and more of a server answering 421.
    await outbox.insert({
      user_id: id,
      kind: 'password_reset',
      recipient: email,
      sealed_link: seal.seal('https://app.example.com/reset-password?token=t'),
      link_expires_at: server().knex.raw("now() - interval '1 minute'"),
      created_at: server().knex.raw("now() - interval '61 minutes'"),
      attempts: 12,
    });
    await expect.poll(async () => (await resetRow(server(), id)).state, { timeout: 20_000 }).toBe('failed');
    expect(await resetRow(server(), id)).toMatchObject({ attempts: 13, last_error: expect.stringContaining('421') });
  });

  it('sends a mail whose claimer died once its lease runs out, and ignores the dead claimer’s late outcome', async () => {
    const { email, id } = await quietUser();
    const leaseSeconds = 5;
    // The row as a worker leaves it when its process dies after the claim: attempts counted, hidden until the lease ends.
    const [claimed] = await server()
      .knex('mail_outbox')
      .insert({
        user_id: id,
        kind: 'password_reset',
        recipient: email,
        sealed_link: createSeal(SECRET_KEY).seal('https://app.example.com/reset-password?token=leased'),
        link_expires_at: server().knex.raw("now() + interval '1 hour'"),
        attempts: 1,
        next_attempt_at: server().knex.raw(`now() + interval '${leaseSeconds} seconds'`),
      })
      .returning('*');
    await sleep(10 * FAST_MAIL.pollMs);
    expect(resetsTo(email), 'nobody sends it while the lease holds').toEqual([]);

    await expect.poll(() => resetsTo(email).length, { timeout: 20_000 + leaseSeconds * 1000 }).toBe(1);
    expect(linkIn(resetsTo(email)[0]!).token).toBe('leased');
    await expect.poll(async () => (await resetRow(server(), id)).state).toBe('sent');
    expect((await resetRow(server(), id)).attempts).toBe(2);

    // The dead claimer wakes up and records its attempt: it no longer holds the row.
    const outbox = createOutbox(server().knex);
    expect(await outbox.sent(claimed)).toBe(0);
    expect(await outbox.retryIn(claimed, 0, 'late')).toBe(0);
    expect(await resetRow(server(), id)).toMatchObject({ state: 'sent', attempts: 2, last_error: null });
    await settle();
    expect(resetsTo(email)).toHaveLength(1);
  });

  it('gives up a mail whose link was sealed with another SECRET_KEY', async () => {
    const { email, id } = await quietUser();
    await server()
      .knex('mail_outbox')
      .insert({
        user_id: id,
        kind: 'password_reset',
        recipient: email,
        sealed_link: createSeal('another-secret-key-of-at-least-32-characters').seal('https://app.example.com/x'),
        link_expires_at: server().knex.raw("now() + interval '1 hour'"),
      });
    await expect.poll(async () => (await resetRow(server(), id)).state, { timeout: 20_000 }).toBe('failed');
    expect((await resetRow(server(), id)).last_error).toMatch(/SECRET_KEY/);
    expect(resetsTo(email)).toEqual([]);
  });

  it('counts queued and sent mails, and shows how many wait', async () => {
    const { email } = await quietUser();
    const [queued, sent] = [await metric('mail_queued_total'), await metric('mail_sent_total')];
    await requestReset(email);
    await expect.poll(() => resetsTo(email).length, { timeout: 20_000 }).toBe(1);
    await expect.poll(() => metric('mail_sent_total')).toBe(sent + 1);
    expect(await metric('mail_queued_total')).toBe(queued + 1);
    const text = await (await fetch(server().metricsUrl!)).text();
    expect(text).toMatch(/^mail_outbox_queued \d+$/m);
    expect(text).not.toContain(email);
  });
});

describe('the retry schedule', () => {
  it('backs off exponentially from 10 s to 10 minutes, with jitter, and retries for at least an hour', () => {
    const delays = (attempt: number) => Array.from({ length: 200 }, () => retryDelayMs(attempt, DEFAULT_WORKER_OPTIONS));
    for (const [attempt, full] of [[1, 10_000], [2, 20_000], [4, 80_000], [7, 600_000], [30, 600_000]] as const) {
      const seen = delays(attempt);
      expect(Math.min(...seen), `attempt ${attempt}`).toBeGreaterThanOrEqual(full / 2);
      expect(Math.max(...seen), `attempt ${attempt}`).toBeLessThanOrEqual(full);
      expect(new Set(seen).size, 'jitter').toBeGreaterThan(100);
    }
    expect(DEFAULT_WORKER_OPTIONS.retryForSeconds).toBeGreaterThanOrEqual(3600);
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('two API instances on one outbox (PostgreSQL only)', () => {
  it('deliver each of many mails queued at once exactly once', { timeout: 120_000 }, async () => {
    const instances = [server(), await server().sibling()];
    try {
      // A server that takes a moment per mail, so that both workers are at it together.
      smtp.answer = async () => {
        await sleep(5);
        return undefined;
      };
      const N = 30;
      const emails = Array.from({ length: N }, () => `many-${randomUUID()}@example.com`);
      const password = 'correct-horse-battery';
      // Registrations (a verification mail each), a few at a time: an address may have only 8
      // password checks waiting per instance (src/auth/passwords.ts). Then every reset at once.
      for (let i = 0; i < N; i += 6) {
        const batch = emails.slice(i, i + 6);
        await Promise.all(batch.map((email, j) => ok(instances[j % 2]!.client().POST('/auth/register', { body: { email, password } }))));
      }
      await Promise.all(emails.map((email, i) => instances[(i + 1) % 2]!.client().POST('/auth/password-reset', { body: { email } })));

      const mine = () => smtp.delivered.filter((m) => emails.includes(m.envelope.to[0]!));
      await expect.poll(() => mine().length, { timeout: 60_000 }).toBe(2 * N);
      await settle();
      const sent = mine().map((m) => `${m.envelope.to[0]} ${m.subject}`);
      expect(new Set(sent).size).toBe(2 * N);
      expect(sent).toHaveLength(2 * N);
      const rows = await server().knex('mail_outbox').whereIn('recipient', emails).select('state', 'attempts');
      expect(rows).toHaveLength(2 * N);
      expect(rows.every((r) => r.state === 'sent' && r.attempts === 1)).toBe(true);
    } finally {
      await instances[1]!.close();
    }
  });
});
