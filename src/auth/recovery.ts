import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Config } from '../config.js';
import { AppError, problems } from '../http/problem.js';
import type { Mail, MailKind } from '../mail/index.js';
import { MAX_PASSWORD_BYTES, passwordTooLong, type PasswordClient, type Passwords } from './passwords.js';
import type { Sessions } from './sessions.js';
import { hashToken } from './token-hash.js';

type Db = Knex | Knex.Transaction;
/** What a token is for; also the kind of the mail that carries it. */
type Purpose = MailKind;

// At most one mail of each kind per account in this many seconds (contract 1.2).
const MAIL_INTERVAL_SECONDS = 60;

const invalidToken = () => new AppError(400, 'invalid-token', 'This link is not valid any more; ask for a new one.');
const mailNotConfigured = () => new AppError(503, 'mail-not-configured', 'This server cannot send mail (no SMTP server is configured); ask its operator.');
const alreadyVerified = () => problems.conflict('This e-mail address is already verified.');

/**
 * Issues a token and queues the mail that carries it, in one statement: the account is looked up,
 * its token of this purpose replaced (unless its last one is under a minute old: then nothing
 * changes and no mail goes), any mail of that kind still queued for it dropped (its link is dead
 * now), and the new mail queued. One statement is atomic, takes one round trip whether or not the
 * account exists, and of two requests at once for one account the second finds the first's row,
 * locked and then fresh, and issues nothing.
 */
const issueSql = (account: string) => `
  with account as (select id, email from users where ${account}),
  token as (
    insert into account_tokens as t (user_id, purpose, token_hash, expires_at)
    select id, :purpose, :tokenHash, now() + make_interval(secs => :ttl) from account
    on conflict (user_id, purpose) do update
      set token_hash = excluded.token_hash, created_at = now(), expires_at = excluded.expires_at, spent_at = null
      where t.created_at <= now() - make_interval(secs => ${MAIL_INTERVAL_SECONDS})
    returning user_id, expires_at),
  superseded as (
    delete from mail_outbox m using token where m.user_id = token.user_id and m.kind = :purpose and m.state = 'queued'),
  queued as (
    insert into mail_outbox (user_id, kind, recipient, sealed_link, link_expires_at)
    select account.id, :purpose, account.email, :sealedLink, token.expires_at from token join account on account.id = token.user_id
    returning id)
  select (select count(*) from account)::int as accounts, (select count(*) from queued)::int as queued`;

// Resets go to active accounts found by address; verifications to an unverified account by id.
const ISSUE_RESET = issueSql('email = :email and is_active');
const ISSUE_VERIFICATION = issueSql('id = :userId and not email_verified');

const LIVE = 'spent_at is null and expires_at > now()';

// Spends a reset token of an active account and sets its password in one statement: of two
// confirms with one token, the second waits for the first's row lock, then finds it spent.
const RESET_PASSWORD = `
  with spent as (
    update account_tokens t set spent_at = now()
    from users u
    where t.token_hash = :tokenHash and t.purpose = 'password_reset' and t.spent_at is null and t.expires_at > now()
      and u.id = t.user_id and u.is_active
    returning t.user_id)
  update users set password_hash = :passwordHash, email_verified = true, updated_at = now()
  from spent where users.id = spent.user_id
  returning users.id`;

const VERIFY_EMAIL = `
  with spent as (
    update account_tokens set spent_at = now()
    where token_hash = :tokenHash and purpose = 'email_verification' and ${LIVE}
    returning user_id)
  update users set email_verified = true, updated_at = now()
  from spent where users.id = spent.user_id
  returning users.id`;

/** Password reset and e-mail verification: tokens that travel by mail, and spending them. */
export function createRecovery(deps: {
  knex: Knex;
  sessions: Pick<Sessions, 'endAll'>;
  passwords: Passwords;
  mail: Mail;
  settings: Config['mail'];
}) {
  const { knex, sessions, passwords, mail, settings } = deps;
  const purposes: Record<Purpose, { sql: string; url: string; ttl: number }> = {
    password_reset: { sql: ISSUE_RESET, url: settings.passwordResetUrl, ttl: settings.passwordResetTtlSeconds },
    email_verification: { sql: ISSUE_VERIFICATION, url: settings.emailVerificationUrl, ttl: settings.emailVerificationTtlSeconds },
  };

  /**
   * Issues a token of `purpose` for the account `where` names and queues its mail; the worker is
   * woken once `db` has committed. Counts the accounts found (0 or 1) and the mails queued (0 or 1).
   */
  async function issue(db: Db, purpose: Purpose, where: { email: string } | { userId: string }) {
    const { sql, url, ttl } = purposes[purpose];
    // Made for unknown addresses too, so that they cost what known ones do.
    const token = randomBytes(32).toString('base64url'); // 256 bits
    const { rows } = await db.raw<{ rows: { accounts: number; queued: number }[] }>(sql, {
      ...where,
      purpose,
      tokenHash: hashToken(token),
      ttl,
      sealedLink: mail.seal(url.replaceAll('{token}', token)),
    });
    const outcome = rows[0]!;
    if (outcome.queued > 0) {
      if (db.isTransaction) void (db as Knex.Transaction).executionPromise.then(() => mail.queued(purpose), () => undefined);
      else mail.queued(purpose);
    }
    return outcome;
  }

  /** Whether `tokenHash` is a live token of `purpose`: a read, so that a bad token costs no bcrypt. */
  const isLive = async (tokenHash: string, purpose: Purpose) =>
    (await knex('account_tokens').where({ token_hash: tokenHash, purpose }).whereRaw(LIVE).first('user_id')) !== undefined;

  /** Seconds until the account may get another mail of `purpose`. */
  async function secondsUntilNextMail(userId: string, purpose: Purpose): Promise<number> {
    const row = await knex('account_tokens')
      .where({ user_id: userId, purpose })
      .first(knex.raw('ceil(extract(epoch from created_at + make_interval(secs => ?) - now()))::int as wait', [MAIL_INTERVAL_SECONDS]));
    return Math.max(1, (row as { wait?: number } | undefined)?.wait ?? 1);
  }

  return {
    /** In the transaction that makes the account: its verification mail goes out once it commits. */
    async queueVerification(trx: Knex.Transaction, userId: string): Promise<void> {
      if (mail.configured) await issue(trx, 'email_verification', { userId });
    },

    /** The same answer, in about the same time, whether or not an active account has `email`. */
    async requestPasswordReset(email: string): Promise<void> {
      if (!mail.configured) throw mailNotConfigured();
      await knex.transaction(async (trx) => {
        // Committing a write waits for the WAL to reach the disk, a read-only statement does not: that
        // wait (~2 ms here) would tell an address with an account (a token, a mail, a row lock) from
        // one without. Not waiting costs the request as a whole (token and mail together) should
        // PostgreSQL itself crash within a fraction of a second; the user asks again. SET LOCAL: this
        // transaction only, also through PgBouncer.
        await trx.raw('set local synchronous_commit = off');
        await issue(trx, 'password_reset', { email: email.toLowerCase() });
      });
    },

    /**
     * Sets the account's new password, ends all its sessions and counts its address as verified;
     * the password is checked and hashed first (bcrypt is slow: outside any transaction), so a
     * 422 or a full hashing queue leaves the token unspent.
     */
    async confirmPasswordReset(client: PasswordClient, token: string, newPassword: string): Promise<void> {
      if (passwordTooLong(newPassword)) {
        throw problems.validation([{ pointer: '/body/new_password', message: `must be at most ${MAX_PASSWORD_BYTES} bytes of UTF-8` }]);
      }
      const tokenHash = hashToken(token);
      if (!(await isLive(tokenHash, 'password_reset'))) throw invalidToken();
      const passwordHash = await passwords.hash(client, newPassword);
      await knex.transaction(async (trx) => {
        const { rows } = await trx.raw<{ rows: { id: string }[] }>(RESET_PASSWORD, { tokenHash, passwordHash });
        if (!rows[0]) throw invalidToken();
        await sessions.endAll(rows[0].id, trx);
      });
    },

    async verifyEmail(token: string): Promise<void> {
      const { rows } = await knex.raw<{ rows: { id: string }[] }>(VERIFY_EMAIL, { tokenHash: hashToken(token) });
      if (!rows[0]) throw invalidToken();
    },

    /** A new verification mail for the caller: 409 once verified, 429 within a minute of the last one. */
    async resendVerification(userId: string): Promise<void> {
      if (!mail.configured) throw mailNotConfigured();
      const { accounts, queued } = await issue(knex, 'email_verification', { userId });
      if (accounts === 0) throw alreadyVerified();
      if (queued === 0) {
        const wait = await secondsUntilNextMail(userId, 'email_verification');
        throw problems.tooManyRequests(wait, `A verification mail was sent less than a minute ago; check your inbox, or try again in ${wait} seconds.`);
      }
    },
  };
}

export type Recovery = ReturnType<typeof createRecovery>;
