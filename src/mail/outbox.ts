import type { Knex } from 'knex';
import type { MailKind } from './messages.js';

/** A claimed mail, as the worker sends it. */
export interface ClaimedMail {
  id: number;
  message_id: string;
  kind: MailKind;
  recipient: string;
  sealed_link: string;
  link_expires_at: Date;
  created_at: Date;
  /** This claim's number: the outcome is recorded only while the row is still at it. */
  attempts: number;
}

// Claims due mails with a lease instead of holding a transaction (and on PGlite its only
// connection) open while SMTP talks: SKIP LOCKED lets concurrent claimers, in any process, take
// disjoint rows; pushing next_attempt_at past the lease hides the rows from the others until
// their outcome is recorded, or until the lease runs out because the claimer died.
const CLAIM = `
  update mail_outbox set next_attempt_at = now() + make_interval(secs => :leaseSeconds), attempts = attempts + 1
  where id in (
    select id from mail_outbox
    where state = 'queued' and next_attempt_at <= now()
    order by next_attempt_at, id
    limit :limit
    for update skip locked)
  returning id, message_id, kind, recipient, sealed_link, link_expires_at, created_at, attempts`;

/** The outbox table's side of sending: claims and outcomes. Mails are queued by whoever made their token. */
export function createOutbox(knex: Knex) {
  // Only the claim that is still current records an outcome; a claimer whose lease ran out (and
  // whose mail someone else took) changes nothing.
  const current = (mail: ClaimedMail) => knex('mail_outbox').where({ id: mail.id, attempts: mail.attempts, state: 'queued' });
  // A sent or abandoned mail keeps no live link.
  const finish = (mail: ClaimedMail, state: 'sent' | 'failed', error: string | null) =>
    current(mail).update({ state, finished_at: knex.fn.now(), sealed_link: null, last_error: error });

  return {
    async claim(limit: number, leaseSeconds: number): Promise<ClaimedMail[]> {
      const { rows } = await knex.raw<{ rows: ClaimedMail[] }>(CLAIM, { limit, leaseSeconds });
      return rows;
    },
    sent: (mail: ClaimedMail) => finish(mail, 'sent', null),
    failed: (mail: ClaimedMail, error: string) => finish(mail, 'failed', error),
    retryIn: (mail: ClaimedMail, seconds: number, error: string) =>
      current(mail).update({ next_attempt_at: knex.raw('now() + make_interval(secs => ?)', [seconds]), last_error: error }),
    /** Mails waiting to be sent, now or after a retry's backoff. */
    async waiting(): Promise<number> {
      const row = await knex('mail_outbox').where('state', 'queued').count({ n: '*' }).first();
      return Number(row?.n ?? 0);
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
