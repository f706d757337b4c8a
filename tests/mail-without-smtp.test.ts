// Without SMTP_URL: development writes each mail to the log; production starts, warns, and answers 503.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { useServer } from './support/server.js';
import { FAST_MAIL } from './support/smtp.js';
import { signUp } from './support/users.js';

/** A JSON logger that keeps what it writes. */
function capture() {
  const lines: Record<string, any>[] = [];
  return { lines, logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) };
}

const password = 'correct-horse-battery';

describe('development without SMTP_URL', () => {
  const log = capture();
  // NODE_ENV=test behaves as development here; the default links point at this server's Swagger UI.
  const server = useServer({ PORT: '8000' }, { mailWorker: FAST_MAIL, logger: log.logger });
  const mailLines = () => log.lines.filter((l) => l.mail);

  it('writes each mail to the log with its link, and that link works', async () => {
    const email = `dev-${randomUUID()}@example.com`;
    await ok(server().client().POST('/auth/register', { body: { email, password } }));
    expect((await server().client().POST('/auth/password-reset', { body: { email } })).response.status).toBe(202);
    await expect.poll(() => mailLines().filter((l) => l.mail.to === email).length, { timeout: 20_000 }).toBe(2);

    const reset = mailLines().find((l) => l.mail.to === email && /password/.test(l.mail.subject))!;
    expect(reset.msg).toContain(reset.mail.link);
    const token = /^http:\/\/localhost:8000\/docs#\/Auth\/confirmPasswordReset\/([A-Za-z0-9_-]{43})$/.exec(reset.mail.link)?.[1];
    expect(token, reset.mail.link).toBeDefined();
    const confirmed = await server().client().POST('/auth/password-reset/confirm', { body: { token: token!, new_password: 'a-brand-new-secret' } });
    expect(confirmed.response.status).toBe(204);

    const verification = mailLines().find((l) => l.mail.to === email && /Confirm/.test(l.mail.subject))!;
    expect(verification.mail.link).toMatch(/^http:\/\/localhost:8000\/docs#\/Auth\/verifyEmail\/[A-Za-z0-9_-]{43}$/);
    const verified = await server().client().POST('/auth/verify-email', { body: { token: verification.mail.link.split('/').at(-1) } });
    expect(verified.response.status).toBe(204);
  });
});

describe('production without SMTP_URL', () => {
  const log = capture();
  const production = { NODE_ENV: 'production', SECRET_KEY: 'a-production-secret-of-at-least-32-chars', ALLOW_EMBEDDED_DATABASE: 'true' };
  const server = useServer(production, { logger: log.logger });

  it('starts, and warns once that no mail can be sent', () => {
    const warnings = log.lines.filter((l) => /SMTP_URL/.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, msg: expect.stringMatching(/answer 503/) });
  });

  it('answers a password reset request 503 problem+json saying mail is not configured', async () => {
    const { email } = await signUp(server());
    const { response, error } = await server().client().POST('/auth/password-reset', { body: { email } });
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(error).toMatchObject({ type: '/problems/mail-not-configured', status: 503, detail: expect.stringMatching(/cannot send mail/) });
  });

  it('answers a resend 503 the same way', async () => {
    const { client } = await signUp(server());
    const { response, error } = await client.POST('/auth/verify-email/resend');
    expect(response.status).toBe(503);
    expect(error?.type).toBe('/problems/mail-not-configured');
  });

  it('keeps registration working, and queues no mail it could never send', async () => {
    const email = `prod-${randomUUID()}@example.com`;
    const { response, data } = await server().client().POST('/auth/register', { body: { email, password } });
    expect(response.status).toBe(201);
    expect(data?.email_verified).toBe(false);
    expect(await server().knex('mail_outbox').where('recipient', email)).toEqual([]);
    expect(log.lines.filter((l) => /SMTP_URL/.test(l.msg))).toHaveLength(1);
  });
});
