import type { Logger } from 'pino';
import { render } from './messages.js';
import type { MailMetrics } from './metrics.js';
import type { ClaimedMail, Outbox } from './outbox.js';
import type { Seal } from './seal.js';
import { isPermanentFailure, type MailTransport } from './transport.js';

export interface MailWorkerOptions {
  /** How often to look for mail that other processes queued, and for retries that are due. */
  pollMs: number;
  /** Mails claimed at a time and sent side by side: at most this many SMTP connections per process. */
  batchSize: number;
  /** How long a claim hides a mail from other workers: longer than any send can take (see TIMEOUTS in transport.ts). */
  leaseSeconds: number;
  /** The first retry's delay; each further one doubles it, up to maxRetryMs, with jitter. */
  firstRetryMs: number;
  maxRetryMs: number;
  /** A mail is retried at least this long after it was queued, and on while its link works. */
  retryForSeconds: number;
  /** How long close() waits for sends in flight before it lets them go (their lease runs out, and they are sent again). */
  closeGraceMs: number;
}

export const DEFAULT_WORKER_OPTIONS: MailWorkerOptions = {
  pollMs: 5000,
  batchSize: 4,
  leaseSeconds: 120,
  firstRetryMs: 10_000,
  maxRetryMs: 10 * 60_000,
  // The contract asks for at least an hour.
  retryForSeconds: 3600,
  closeGraceMs: 10_000,
};

/** Exponential backoff with "equal jitter": half the delay fixed, half random, so that retries of many mails spread out. */
export function retryDelayMs(attempt: number, options: Pick<MailWorkerOptions, 'firstRetryMs' | 'maxRetryMs'>): number {
  const delay = Math.min(options.maxRetryMs, options.firstRetryMs * 2 ** (attempt - 1));
  return delay / 2 + (Math.random() * delay) / 2;
}

const reasonOf = (error: unknown) => {
  const e = (error ?? {}) as { code?: unknown; responseCode?: unknown; message?: unknown };
  return [e.responseCode, e.code, e.message].filter((part) => part !== undefined).join(' ').slice(0, 500);
};

export interface MailWorkerDeps {
  outbox: Outbox;
  transport: MailTransport;
  seal: Seal;
  metrics: MailMetrics;
  logger: Logger;
  options: MailWorkerOptions;
}

/**
 * Sends what the outbox holds, in every server process: woken at once by this process's own
 * enqueues, and every `pollMs` for mail queued elsewhere and for retries that are due. Claims
 * are leases (see outbox.ts), so however many processes and instances run, a mail is sent by one
 * of them at a time; a process that dies between the server's 250 and recording it leaves the
 * mail to be sent again once its lease runs out (at least once, never lost).
 */
export function createMailWorker(deps: MailWorkerDeps) {
  const { outbox, transport, seal, metrics, logger, options } = deps;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  // One warning per outage of the database, not one per poll.
  let failing = false;

  async function deliver(mail: ClaimedMail): Promise<void> {
    const kind = { mail_kind: mail.kind };
    let link: string;
    try {
      link = seal.open(mail.sealed_link);
    } catch {
      // Sealed under another SECRET_KEY: nobody can ever send it.
      await outbox.failed(mail, 'the link was sealed with another SECRET_KEY');
      metrics.failed.inc(kind);
      logger.error({ mail_id: mail.id, mail_kind: mail.kind }, 'mail given up: its link was sealed with another SECRET_KEY');
      return;
    }
    try {
      await transport.send({ ...render(mail.kind, link, mail.link_expires_at), to: mail.recipient, messageId: mail.message_id, link });
    } catch (error) {
      const reason = reasonOf(error);
      const delayMs = retryDelayMs(mail.attempts, options);
      const giveUpAt = Math.max(mail.link_expires_at.getTime(), mail.created_at.getTime() + options.retryForSeconds * 1000);
      const log = { mail_id: mail.id, mail_kind: mail.kind, attempts: mail.attempts, reason };
      // Given up only once this attempt came after the time: retried for at least that long.
      if (isPermanentFailure(error) || Date.now() >= giveUpAt) {
        await outbox.failed(mail, reason);
        metrics.failed.inc(kind);
        logger.error(log, 'mail given up');
      } else {
        await outbox.retryIn(mail, delayMs / 1000, reason);
        metrics.retried.inc(kind);
        logger.warn({ ...log, retry_in_ms: Math.round(delayMs) }, 'mail not sent; will retry');
      }
      return;
    }
    // Should this fail (the database went away), the lease runs out and the mail goes again.
    await outbox.sent(mail);
    metrics.sent.inc(kind);
    logger.debug({ mail_id: mail.id, mail_kind: mail.kind, attempts: mail.attempts }, 'mail sent');
  }

  async function drain(): Promise<void> {
    do {
      again = false;
      const batch = await outbox.claim(options.batchSize, options.leaseSeconds);
      await Promise.all(
        batch.map((mail) => deliver(mail).catch((err) => logger.error({ err, mail_id: mail.id }, 'recording a mail outcome failed; it will be sent again'))),
      );
      // A full batch may have left more behind.
      if (batch.length === options.batchSize) again = true;
    } while (again && !stopped);
  }

  function wake(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = drain()
      .then(
        () => {
          if (failing) logger.info('mail outbox reachable again');
          failing = false;
        },
        (err) => {
          if (!failing) logger.warn({ err }, 'mail outbox unreachable; trying again at the next poll');
          failing = true;
        },
      )
      .finally(() => {
        running = undefined;
        // Woken after drain's last look: look again.
        if (again) wake();
      });
  }

  const poll = setInterval(wake, options.pollMs).unref();
  wake(); // mail left by a previous run of this or another process

  return {
    /** This process queued mail: send it now rather than at the next poll. */
    wake,
    async close(): Promise<void> {
      stopped = true;
      clearInterval(poll);
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.closeGraceMs);
      });
      await Promise.race([running, grace]);
      clearTimeout(timer);
      transport.close();
    },
  };
}

export type MailWorker = ReturnType<typeof createMailWorker>;
