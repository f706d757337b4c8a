import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './conformance-proxy.js';

/** A mail as the test SMTP server took it, parsed by mailparser, with its envelope. */
export interface Delivered extends ParsedMail {
  envelope: { from: string; to: string[] };
  /** Who logged in to send it. */
  user: string | undefined;
}

/**
 * What the server answers to a message's DATA: undefined takes it (250), a code refuses it with
 * that code (4xx: try later, 5xx: never), and a promise is waited for first (a slow server).
 */
export type Answer = (mail: Delivered) => number | undefined | Promise<number | undefined>;

export interface TestSmtp {
  /** smtp://user:password@127.0.0.1:port: SMTP_URL for the app. */
  url: string;
  port: number;
  /** Mails answered 250, in order. */
  delivered: Delivered[];
  /** Messages that reached DATA, whatever the answer. */
  attempts: number;
  answer: Answer;
  /** Starts listening (again) on the same port. */
  start(): Promise<void>;
  /** Stops listening and drops open connections: a server that is down. */
  stop(): Promise<void>;
  /** The mails delivered to `address`, once there are `count` of them (within `timeoutMs`). */
  mailsTo(address: string, count?: number, timeoutMs?: number): Promise<Delivered[]>;
}

const USER = 'api';
const PASSWORD = 'smtp-secret';

/**
 * A real SMTP server in the test process (smtp-server, from nodemailer's authors), with a login,
 * that keeps and parses what it is sent. `start: false` gives a port on which nothing listens yet.
 */
export async function startSmtp(options: { start?: boolean } = {}): Promise<TestSmtp> {
  const port = await freePort();
  let server: SMTPServer | undefined;

  const smtp: TestSmtp = {
    url: `smtp://${USER}:${PASSWORD}@127.0.0.1:${port}`,
    port,
    delivered: [],
    attempts: 0,
    answer: () => undefined,
    async start() {
      server = new SMTPServer({
        logger: false,
        // stop() is a server going down: open connections go at once.
        closeTimeout: 50,
        // Plain connections: nodemailer upgrades to TLS when STARTTLS is offered, and this
        // server's certificate is self-signed.
        disabledCommands: ['STARTTLS'],
        allowInsecureAuth: true,
        onAuth(auth, _session, callback) {
          if (auth.username === USER && auth.password === PASSWORD) callback(null, { user: USER });
          else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
        },
        onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
          void (async () => {
            const chunks: Buffer[] = [];
            for await (const chunk of stream) chunks.push(chunk as Buffer);
            const parsed = await simpleParser(Buffer.concat(chunks));
            const mail: Delivered = Object.assign(parsed, {
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              user: session.user as string | undefined,
            });
            smtp.attempts++;
            const code = await smtp.answer(mail);
            if (code === undefined) {
              smtp.delivered.push(mail);
              return callback();
            }
            callback(Object.assign(new Error(code >= 500 ? 'Mailbox unavailable' : 'Try again later'), { responseCode: code }));
          })().catch((error: Error) => callback(error));
        },
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
    },
    async stop() {
      const stopping = server;
      server = undefined;
      if (stopping) await new Promise<void>((resolve) => stopping.close(() => resolve()));
    },
    async mailsTo(address, count = 1, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = smtp.delivered.filter((m) => m.envelope.to.includes(address));
        if (found.length >= count || Date.now() > deadline) return found;
        await sleep(20);
      }
    },
  };
  if (options.start !== false) await smtp.start();
  return smtp;
}

/** The link in a mail's plain-text part, and the token in it. */
export function linkIn(mail: Pick<ParsedMail, 'text'>): { link: string; token: string } {
  const link = /https?:\/\/\S+/.exec(mail.text ?? '')?.[0];
  if (!link) throw new Error(`no link in the mail:\n${mail.text}`);
  const token = /token=([A-Za-z0-9_-]+)/.exec(link)?.[1] ?? link.split('/').at(-1)!;
  return { link, token };
}

/** Worker timings for tests: polls and retries in milliseconds instead of seconds. */
export const FAST_MAIL = { pollMs: 50, firstRetryMs: 50, maxRetryMs: 200, closeGraceMs: 2000 };
