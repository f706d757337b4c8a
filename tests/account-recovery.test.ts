// Contract 1.2, "Account recovery and verified e-mail": every line, with a real SMTP server.
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { ok, type TaskClient } from '../src/client/index.js';
import { problemOf, useServer, type TestServer } from './support/server.js';
import { FAST_MAIL, linkIn, startSmtp, type Delivered } from './support/smtp.js';
import { signUp } from './support/users.js';

const smtp = await startSmtp();
afterAll(() => smtp.stop());

const RESET_URL = 'https://app.example.com/reset-password?token={token}';
const VERIFY_URL = 'https://app.example.com/verify-email?token={token}';
const MAIL_FROM = 'Task Management <no-reply@tasks.example.com>';
const env = { SMTP_URL: smtp.url, MAIL_FROM, PASSWORD_RESET_URL: RESET_URL, EMAIL_VERIFICATION_URL: VERIFY_URL };
const server = useServer(env, { mailWorker: FAST_MAIL });

const password = 'correct-horse-battery';
const newPassword = 'staple-battery-horse-correct';
const RESET_SUBJECT = 'Reset your Task Management password';
const VERIFY_SUBJECT = 'Confirm your e-mail address for Task Management';
const freshEmail = () => `someone-${randomUUID()}@example.com`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const requestReset = (email: string) => server().client().POST('/auth/password-reset', { body: { email } });
const confirmReset = (token: string, new_password = newPassword) =>
  server().client().POST('/auth/password-reset/confirm', { body: { token, new_password } });
const verify = (token: string) => server().client().POST('/auth/verify-email', { body: { token } });

/** The `count`-th mail with `subject` to `email` (waits for it). */
async function mailTo(email: string, subject: string, count = 1): Promise<Delivered> {
  for (let i = 0; i < 500; i++) {
    const mails = smtp.delivered.filter((m) => m.envelope.to.includes(email) && m.subject === subject);
    if (mails.length >= count) return mails[count - 1]!;
    await sleep(20);
  }
  throw new Error(`no mail "${subject}" number ${count} to ${email}`);
}
const mailsTo = (email: string, subject: string) => smtp.delivered.filter((m) => m.envelope.to.includes(email) && m.subject === subject);

/** Waits until the outbox holds nothing queued for `userId`: what was queued has been sent or given up. */
async function outboxSettled(s: TestServer, userId: string) {
  await expect.poll(async () => (await s.knex('mail_outbox').where({ user_id: userId, state: 'queued' })).length, { timeout: 20_000 }).toBe(0);
}

/** As if the account's last mail of `purpose` went out over a minute ago. */
const aMinuteLater = (userId: string, purpose: string) =>
  server().knex('account_tokens').where({ user_id: userId, purpose }).update({ created_at: server().knex.raw("created_at - interval '61 seconds'") });

async function resetToken(email: string, count = 1) {
  if (count === 1) expect((await requestReset(email)).response.status).toBe(202);
  return linkIn(await mailTo(email, RESET_SUBJECT, count)).token;
}

const meStatus = async (client: TaskClient) => (await client.GET('/auth/me')).response.status;

describe('POST /auth/password-reset', () => {
  it('answers 202 with the same body for an active account, an unknown address and a deactivated account', async () => {
    const known = await signUp(server());
    const deactivated = await signUp(server());
    await server().knex('users').where('id', deactivated.id).update({ is_active: false });
    const answers = await Promise.all([known.email, freshEmail(), deactivated.email].map(requestReset));
    expect(answers.map((a) => a.response.status)).toEqual([202, 202, 202]);
    expect(answers[1]!.data).toEqual(answers[0]!.data);
    expect(answers[2]!.data).toEqual(answers[0]!.data);
    expect(answers[0]!.data?.detail).toMatch(/If an active account has this e-mail address/);
  });

  it('mails an active account a link made from PASSWORD_RESET_URL, with a 256-bit base64url token', async () => {
    const { email } = await signUp(server());
    expect((await requestReset(email)).response.status).toBe(202);
    const mail = await mailTo(email, RESET_SUBJECT);
    const { link, token } = linkIn(mail);
    expect(link).toBe(RESET_URL.replace('{token}', token));
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
  });

  it('sends nothing for an unknown address or a deactivated account', async () => {
    const deactivated = await signUp(server());
    await server().knex('users').where('id', deactivated.id).update({ is_active: false });
    const unknown = freshEmail();
    await requestReset(unknown);
    await requestReset(deactivated.email);
    // Nothing is queued, so nothing can be sent later either.
    expect(await server().knex('mail_outbox').where('recipient', unknown)).toEqual([]);
    expect(await server().knex('mail_outbox').where({ user_id: deactivated.id, kind: 'password_reset' })).toEqual([]);
    const { email } = await signUp(server());
    await resetToken(email);
    expect(smtp.delivered.filter((m) => m.envelope.to.includes(unknown))).toEqual([]);
    expect(mailsTo(deactivated.email, RESET_SUBJECT)).toEqual([]);
  });

  it('keeps only the SHA-256 of the token: no table holds the token itself', async () => {
    const { email, id } = await signUp(server());
    const token = await resetToken(email);
    const row = await server().knex('account_tokens').where({ user_id: id, purpose: 'password_reset' }).first();
    expect(row.token_hash).toBe(sha256(token));
    for (const table of ['account_tokens', 'mail_outbox', 'users']) {
      const { rows } = await server().knex.raw(`select count(*)::int as n from ${table} x where x::text like ?`, [`%${token}%`]);
      expect(rows[0].n, table).toBe(0);
    }
  });

  it('matches the address ignoring case', async () => {
    const { email } = await signUp(server());
    expect((await requestReset(email.toUpperCase())).response.status).toBe(202);
    expect((await mailTo(email, RESET_SUBJECT)).envelope.to).toEqual([email]);
  });

  it('makes a link valid for PASSWORD_RESET_TTL_SECONDS (an hour), and the mail says until when', async () => {
    const { email, id } = await signUp(server());
    const before = Date.now();
    await requestReset(email);
    const sent = await mailTo(email, RESET_SUBJECT);
    const row = await server().knex('account_tokens').where({ user_id: id, purpose: 'password_reset' }).first();
    expect(row.expires_at.getTime() - before).toBeGreaterThan(3600_000 - 60_000);
    expect(row.expires_at.getTime() - Date.now()).toBeLessThanOrEqual(3600_000);
    const shown = /until (\d{4}-\d\d-\d\d \d\d:\d\d) UTC/.exec(sent.text!)![1]!;
    expect(row.expires_at.getTime() - Date.parse(`${shown.replace(' ', 'T')}:00Z`)).toBeLessThan(60_000);
  });

  it('refuses an expired link with 400 invalid-token', async () => {
    const { email, id } = await signUp(server());
    const token = await resetToken(email);
    await server().knex('account_tokens').where({ user_id: id, purpose: 'password_reset' }).update({ expires_at: server().knex.raw("now() - interval '1 second'") });
    const { response, error } = await confirmReset(token);
    expect(response.status).toBe(400);
    expect(error?.type).toMatch(/\/invalid-token$/);
  });

  it('sends at most one reset mail a minute per account: a second request is 202, sends nothing and keeps the first link valid', async () => {
    const { email, id } = await signUp(server());
    const token = await resetToken(email);
    const again = await requestReset(email);
    expect(again.response.status).toBe(202);
    expect(again.data).toEqual((await requestReset(freshEmail())).data);
    await outboxSettled(server(), id);
    await sleep(5 * FAST_MAIL.pollMs);
    expect(mailsTo(email, RESET_SUBJECT)).toHaveLength(1);
    expect((await confirmReset(token)).response.status).toBe(204);
  });

  it('makes older links invalid with a newer one', async () => {
    const { email, id } = await signUp(server());
    const first = await resetToken(email);
    await aMinuteLater(id, 'password_reset');
    expect((await requestReset(email)).response.status).toBe(202);
    const second = linkIn(await mailTo(email, RESET_SUBJECT, 2)).token;
    expect(second).not.toBe(first);
    const old = await confirmReset(first);
    expect(old.response.status).toBe(400);
    expect(old.error?.type).toMatch(/\/invalid-token$/);
    expect((await confirmReset(second)).response.status).toBe(204);
  });

  it('limits reset and verification mails separately: a reset right after registration is mailed', async () => {
    const email = freshEmail();
    await ok(server().client().POST('/auth/register', { body: { email, password } }));
    await mailTo(email, VERIFY_SUBJECT);
    expect((await requestReset(email)).response.status).toBe(202);
    await mailTo(email, RESET_SUBJECT);
  });
});

describe('POST /auth/password-reset/confirm', () => {
  it('sets the new password: it logs in, the old one does not', async () => {
    const { email } = await signUp(server());
    const token = await resetToken(email);
    expect((await confirmReset(token)).response.status).toBe(204);
    expect((await server().client().POST('/auth/login', { body: { email, password: newPassword } })).response.status).toBe(200);
    expect((await server().client().POST('/auth/login', { body: { email, password } })).response.status).toBe(401);
  });

  it('ends every session of the account, refresh and access tokens alike', async () => {
    const { email, client } = await signUp(server());
    const other = server().client();
    await other.login(email, password);
    const refresh = other.tokens!.refresh_token;
    await confirmReset(await resetToken(email));
    for (const c of [client, other]) {
      const pair = c.tokens!;
      expect(await meStatus(server().client({ ...pair }))).toBe(401);
    }
    expect((await server().client().POST('/auth/refresh', { body: { refresh_token: refresh } })).response.status).toBe(401);
  });

  it('counts the e-mail address as verified', async () => {
    const { email } = await signUp(server());
    await confirmReset(await resetToken(email));
    const fresh = server().client();
    await fresh.login(email, newPassword);
    expect((await ok(fresh.GET('/auth/me'))).email_verified).toBe(true);
  });

  it('spends the token: a second confirm with it is 400 invalid-token', async () => {
    const { email } = await signUp(server());
    const token = await resetToken(email);
    expect((await confirmReset(token)).response.status).toBe(204);
    const again = await confirmReset(token, 'yet-another-password');
    expect(again.response.status).toBe(400);
    expect(again.error?.type).toMatch(/\/invalid-token$/);
    expect((await server().client().POST('/auth/login', { body: { email, password: newPassword } })).response.status).toBe(200);
  });

  it('applies the password rules of register with 422, and leaves the token unspent', async () => {
    const { email } = await signUp(server());
    const token = await resetToken(email);
    const short = await confirmReset(token, 'short');
    expect(short.response.status).toBe(422);
    expect(short.error?.errors?.[0]?.pointer).toBe('/body/new_password');
    const tooLong = await confirmReset(token, `${'é'.repeat(36)}x`);
    expect(tooLong.response.status).toBe(422);
    expect(tooLong.error?.errors).toEqual([{ pointer: '/body/new_password', message: 'must be at most 72 bytes of UTF-8' }]);
    expect((await confirmReset(token)).response.status).toBe(204);
  });

  it('refuses an unknown token with 400 problem+json whose type ends in /invalid-token', async () => {
    const res = await server().fetch('/auth/password-reset/confirm', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: 'iTMTHgpyEz1JeadLU7_MQ0-OO0guCCwQSzW1aGQG-4g', new_password: newPassword }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await problemOf(res)).toMatchObject({ type: '/problems/invalid-token', status: 400 });
  });

  it('does not take a verification token', async () => {
    const email = freshEmail();
    await ok(server().client().POST('/auth/register', { body: { email, password } }));
    const { token } = linkIn(await mailTo(email, VERIFY_SUBJECT));
    const { response, error } = await confirmReset(token);
    expect(response.status).toBe(400);
    expect(error?.type).toMatch(/\/invalid-token$/);
    expect((await verify(token)).response.status).toBe(204);
  });
});

describe('e-mail verification', () => {
  it('starts a new account unverified and mails it a link made from EMAIL_VERIFICATION_URL, valid a day', async () => {
    const email = freshEmail();
    const user = await ok(server().client().POST('/auth/register', { body: { email, password } }));
    expect(user.email_verified).toBe(false);
    const mail = await mailTo(email, VERIFY_SUBJECT);
    const { link, token } = linkIn(mail);
    expect(link).toBe(VERIFY_URL.replace('{token}', token));
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const row = await server().knex('account_tokens').where({ user_id: user.id, purpose: 'email_verification' }).first();
    expect(row.token_hash).toBe(sha256(token));
    expect(row.expires_at.getTime() - Date.now()).toBeGreaterThan(86_400_000 - 120_000);
    expect(row.expires_at.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
  });

  it('POST /auth/verify-email with the token and no bearer token verifies the address', async () => {
    const email = freshEmail();
    await ok(server().client().POST('/auth/register', { body: { email, password } }));
    const { token } = linkIn(await mailTo(email, VERIFY_SUBJECT));
    const res = await server().fetch('/auth/verify-email', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
    expect(res.status).toBe(204);
    const client = server().client();
    await client.login(email, password);
    expect((await ok(client.GET('/auth/me'))).email_verified).toBe(true);
  });

  it('refuses a spent, an unknown, an expired or a reset token with 400 invalid-token', async () => {
    const { email, id } = await signUp(server());
    const { token } = linkIn(await mailTo(email, VERIFY_SUBJECT));
    expect((await verify(token)).response.status).toBe(204);
    const resetOne = await resetToken(email);

    const other = await signUp(server());
    const expiring = linkIn(await mailTo(other.email, VERIFY_SUBJECT)).token;
    await server().knex('account_tokens').where({ user_id: other.id, purpose: 'email_verification' }).update({ expires_at: server().knex.raw("now() - interval '1 second'") });

    for (const bad of [token, 'not-a-token-at-all', expiring, resetOne]) {
      const { response, error } = await verify(bad);
      expect(response.status, bad).toBe(400);
      expect(error?.type).toMatch(/\/invalid-token$/);
    }
    expect((await server().knex('users').where('id', id).first()).email_verified).toBe(true);
  });

  it('resend is 429 with Retry-After within a minute of the registration mail, and sends nothing', async () => {
    const { client, email, id } = await signUp(server());
    await mailTo(email, VERIFY_SUBJECT);
    const { response, error } = await client.POST('/auth/verify-email/resend');
    expect(response.status).toBe(429);
    expect(error?.type).toBe('/problems/too-many-requests');
    const retryAfter = Number(response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    await outboxSettled(server(), id);
    expect(mailsTo(email, VERIFY_SUBJECT)).toHaveLength(1);
  });

  it('resend after a minute is 202 and mails a new link that makes the old one invalid', async () => {
    const { client, email, id } = await signUp(server());
    const first = linkIn(await mailTo(email, VERIFY_SUBJECT)).token;
    await aMinuteLater(id, 'email_verification');
    const { response, data } = await client.POST('/auth/verify-email/resend');
    expect(response.status).toBe(202);
    expect(data?.detail).toBeTruthy();
    const second = linkIn(await mailTo(email, VERIFY_SUBJECT, 2)).token;
    expect((await verify(first)).response.status).toBe(400);
    expect((await verify(second)).response.status).toBe(204);
  });

  it('resend for a verified address is 409', async () => {
    const { client, email } = await signUp(server());
    await verify(linkIn(await mailTo(email, VERIFY_SUBJECT)).token);
    const { response, error } = await client.POST('/auth/verify-email/resend');
    expect(response.status).toBe(409);
    expect(error?.type).toBe('/problems/conflict');
  });

  it('resend needs a bearer token', async () => {
    const { response } = await server().client().POST('/auth/verify-email/resend');
    expect(response.status).toBe(401);
  });

  it('lets an unverified account log in while REQUIRE_VERIFIED_EMAIL is off (the default)', async () => {
    const email = freshEmail();
    await ok(server().client().POST('/auth/register', { body: { email, password } }));
    expect((await server().client().POST('/auth/login', { body: { email, password } })).response.status).toBe(200);
  });
});

describe('the mails', () => {
  it('have a plain-text and an HTML part, each with the link and its expiry, from MAIL_FROM with a Message-ID', async () => {
    const email = freshEmail();
    const user = await ok(server().client().POST('/auth/register', { body: { email, password } }));
    await requestReset(email);
    for (const subject of [VERIFY_SUBJECT, RESET_SUBJECT]) {
      const mail = await mailTo(email, subject);
      const { link } = linkIn(mail);
      expect(mail.from?.value).toEqual([{ name: 'Task Management', address: 'no-reply@tasks.example.com' }]);
      expect(mail.envelope).toEqual({ from: 'no-reply@tasks.example.com', to: [email] });
      expect(mail.user, 'logged in with the credentials in SMTP_URL').toBe('api');
      expect(mail.headers.get('to')).toMatchObject({ value: [{ address: email, name: '' }] });
      expect(mail.messageId).toMatch(/^<[0-9a-f-]{36}@tasks\.example\.com>$/);
      expect(mail.date).toBeInstanceOf(Date);
      expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
      expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
      const expiry = /until (\d{4}-\d\d-\d\d \d\d:\d\d UTC)/.exec(mail.text!)![1]!;
      expect(mail.text).toContain(link);
      expect(mail.html).toContain(`href="${link}"`);
      expect(mail.html).toContain(expiry);
      expect(mail.attachments).toEqual([]);
      // Nothing personal beyond the address it goes to.
      for (const part of [mail.text!, mail.html as string]) {
        expect(part).not.toContain(user.id);
        expect(part).not.toContain(email);
      }
    }
  });
});

describe('the typed client', () => {
  it('resets a password and verifies an address with its four calls', async () => {
    const { client, email } = await signUp(server());
    await expect(client.resendVerificationEmail()).rejects.toMatchObject({ status: 429 });
    await client.verifyEmail(linkIn(await mailTo(email, VERIFY_SUBJECT)).token);
    await expect(client.resendVerificationEmail()).rejects.toMatchObject({ status: 409 });
    const anonymous = server().client();
    await anonymous.requestPasswordReset(email);
    await anonymous.confirmPasswordReset(linkIn(await mailTo(email, RESET_SUBJECT)).token, newPassword);
    await expect(anonymous.confirmPasswordReset('spent-or-not', newPassword)).rejects.toMatchObject({ status: 400, problem: { type: '/problems/invalid-token' } });
    await anonymous.login(email, newPassword);
    expect((await ok(anonymous.GET('/auth/me'))).email_verified).toBe(true);
  });
});

describe('the HTTP answer does not wait for SMTP', () => {
  it('answers a reset request while the SMTP server still holds the mail', async () => {
    const { email } = await signUp(server());
    let release!: () => void;
    const held = new Promise<undefined>((resolve) => (release = () => resolve(undefined)));
    smtp.answer = (mail) => (mail.subject === RESET_SUBJECT && mail.envelope.to.includes(email) ? held : undefined);
    try {
      const answered = await requestReset(email);
      expect(answered.response.status).toBe(202);
      // The server has the mail in DATA and has not answered it: the 202 came first.
      await expect.poll(() => smtp.attempts > 0 && mailsTo(email, RESET_SUBJECT).length === 0).toBe(true);
      release();
      await mailTo(email, RESET_SUBJECT);
    } finally {
      release();
      smtp.answer = () => undefined;
    }
  });
});

describe('REQUIRE_VERIFIED_EMAIL=true', () => {
  const strict = useServer({ ...env, REQUIRE_VERIFIED_EMAIL: 'true' }, { mailWorker: FAST_MAIL });
  const login = (email: string, pw: string) => strict().client().POST('/auth/login', { body: { email, password: pw } });

  it('answers a correct password for an unverified account with 403 /email-not-verified, and lets it in once verified', async () => {
    const email = freshEmail();
    await ok(strict().client().POST('/auth/register', { body: { email, password } }));
    const refused = await login(email, password);
    expect(refused.response.status).toBe(403);
    expect(refused.error?.type).toMatch(/\/email-not-verified$/);
    const { token } = linkIn(await mailTo(email, VERIFY_SUBJECT));
    expect((await strict().client().POST('/auth/verify-email', { body: { token } })).response.status).toBe(204);
    expect((await login(email, password)).response.status).toBe(200);
  });

  it('gives a wrong password the same 401 as ever, verified or not', async () => {
    const email = freshEmail();
    await ok(strict().client().POST('/auth/register', { body: { email, password } }));
    expect((await login(email, 'not-the-password')).response.status).toBe(401);
  });

  it('lets an account whose verification mail is lost in through a password reset', async () => {
    const email = freshEmail();
    await ok(strict().client().POST('/auth/register', { body: { email, password } }));
    await strict().client().POST('/auth/password-reset', { body: { email } });
    const { token } = linkIn(await mailTo(email, RESET_SUBJECT));
    expect((await strict().client().POST('/auth/password-reset/confirm', { body: { token, new_password: newPassword } })).response.status).toBe(204);
    expect((await login(email, newPassword)).response.status).toBe(200);
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('races (PostgreSQL only)', () => {
  const N = 10;

  // One address may have 8 password checks waiting (src/auth/passwords.ts); more would be 503.
  const CONFIRMS = 6;

  it(`of ${CONFIRMS} simultaneous confirms with one token exactly one is 204, the others 400`, async () => {
    const { email } = await signUp(server());
    const token = await resetToken(email);
    const results = await Promise.all(Array.from({ length: CONFIRMS }, (_, i) => confirmReset(token, `new-password-number-${i}`)));
    const statuses = results.map((r) => r.response.status).sort();
    expect(statuses).toEqual([204, ...Array<number>(CONFIRMS - 1).fill(400)]);
    const winner = results.findIndex((r) => r.response.status === 204);
    const login = await server().client().POST('/auth/login', { body: { email, password: `new-password-number-${winner}` } });
    expect(login.response.status).toBe(200);
  });

  it(`of ${N} simultaneous reset requests for one account, all are 202 and one mail goes`, async () => {
    const { email, id } = await signUp(server());
    const results = await Promise.all(Array.from({ length: N }, () => requestReset(email)));
    expect(results.map((r) => r.response.status)).toEqual(Array<number>(N).fill(202));
    await mailTo(email, RESET_SUBJECT);
    await outboxSettled(server(), id);
    await sleep(10 * FAST_MAIL.pollMs);
    expect(mailsTo(email, RESET_SUBJECT)).toHaveLength(1);
  });

  it(`of ${N} simultaneous verifications with one token, one spends it`, async () => {
    const email = freshEmail();
    await ok(server().client().POST('/auth/register', { body: { email, password } }));
    const { token } = linkIn(await mailTo(email, VERIFY_SUBJECT));
    const statuses = (await Promise.all(Array.from({ length: N }, () => verify(token)))).map((r) => r.response.status).sort();
    expect(statuses).toEqual([204, ...Array<number>(N - 1).fill(400)]);
  });
});
