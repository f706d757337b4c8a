import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Message } from './messages.js';

/** One mail as the worker hands it over: the rendered message and, for the log, its link. */
export interface OutgoingMail extends Message {
  to: string;
  /** The outbox row's UUID: the Message-ID, the same on every attempt. */
  messageId: string;
  link: string;
}

export interface MailTransport {
  /** Resolves once the server has taken the mail (250); rejects with nodemailer's error otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

// A send ends well within the outbox's lease (src/mail/worker.ts): a server that does not answer
// costs at most these, and then the mail is retried. nodemailer's defaults wait up to 10 minutes.
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

/** The domain of MAIL_FROM's address, for Message-IDs (`Name <a@b>` or `a@b`). */
const domainOf = (from: string) => /@([^\s<>@]+?)>?\s*$/.exec(from)?.[1] ?? 'localhost';

/**
 * SMTP through nodemailer, to the server in SMTP_URL (`smtp://` with STARTTLS when the server
 * offers it, `smtps://` for TLS from the first byte; credentials in the URL). One connection per
 * mail rather than nodemailer's pool: the pool re-queues a message itself when a connection
 * drops, a second layer of retries under the outbox's, and the outbox already knows which mails
 * are owed.
 */
export function smtpTransport(settings: { smtpUrl: string; from: string }): MailTransport {
  // Loaded with the first mail: a start-up (make run, a restart) does not wait for nodemailer.
  let transporter: Promise<Transporter> | undefined;
  const connect = () =>
    (transporter ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport({ url: settings.smtpUrl, ...TIMEOUTS })));
  const domain = domainOf(settings.from);
  return {
    async send(mail) {
      await (await connect()).sendMail({
        from: settings.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: `<${mail.messageId}@${domain}>`,
        // RFC 3834: out-of-office and other auto-replies are not sent back to an automatic mail.
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
    },
    close: () => void transporter?.then((t) => t.close()),
  };
}

/** Without SMTP_URL outside production: each mail is written to the log, link included, and counts as sent. */
export function logTransport(logger: Logger): MailTransport {
  return {
    async send(mail) {
      logger.info({ mail: { to: mail.to, subject: mail.subject, link: mail.link } }, `mail not sent (SMTP_URL is not set): "${mail.subject}" to ${mail.to}: ${mail.link}`);
    },
    close: () => {},
  };
}

/**
 * Whether a failed send is final for this mail: the server answered it with a 5xx (a recipient
 * that does not exist, a message it refuses). A 4xx, a server that cannot be reached or does not
 * answer, and a refused login (the operator's to fix, not the mail's) are tried again.
 */
export function isPermanentFailure(error: unknown): boolean {
  const { responseCode, code } = (error ?? {}) as { responseCode?: unknown; code?: unknown };
  if (code === 'EAUTH') return false;
  return typeof responseCode === 'number' && responseCode >= 500 && responseCode < 600;
}
