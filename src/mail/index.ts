import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { MailKind } from './messages.js';
import { createMailMetrics } from './metrics.js';
import { createOutbox } from './outbox.js';
import { createSeal } from './seal.js';
import { logTransport, smtpTransport } from './transport.js';
import { createMailWorker, DEFAULT_WORKER_OPTIONS, type MailWorkerOptions } from './worker.js';

export type { MailKind } from './messages.js';
export type { MailWorkerOptions } from './worker.js';

export interface MailDeps {
  config: Pick<Config, 'mail' | 'auth'>;
  knex: Knex;
  logger: Logger;
  /** The process's metrics registry, when METRICS_PORT is set. */
  registry?: Registry;
  /** Tests shorten the polls and backoffs; production runs on the defaults. */
  worker?: Partial<MailWorkerOptions>;
}

/**
 * Outgoing mail: the outbox and the worker that empties it in this process. Use cases queue a
 * mail in the transaction that makes its token (sealing its link with `seal`), then call
 * `queued` once that transaction has committed.
 */
export function createMail(deps: MailDeps) {
  const { config, knex, logger } = deps;
  const settings = config.mail;
  const seal = createSeal(config.auth.secretKey);
  const outbox = createOutbox(knex);
  const metrics = createMailMetrics(deps.registry, outbox);
  if (settings.transport === 'none') {
    // 1.1 deployments start as before; only the operations that would mail answer 503.
    logger.warn('SMTP_URL is not set: no mail can be sent, so password reset and verification mail requests answer 503');
  }
  const transport =
    settings.transport === 'smtp' ? smtpTransport({ smtpUrl: settings.smtpUrl!, from: settings.from }) : settings.transport === 'log' ? logTransport(logger) : undefined;
  const worker = transport && createMailWorker({ outbox, transport, seal, metrics, logger, options: { ...DEFAULT_WORKER_OPTIONS, ...deps.worker } });

  return {
    /** Whether mail can be sent at all (not in production without SMTP_URL). */
    configured: worker !== undefined,
    seal: seal.seal,
    /** A mail of `kind` was queued and its transaction has committed: send it now. */
    queued(kind: MailKind) {
      metrics.queued.inc({ mail_kind: kind });
      // After the answer has gone: PGlite runs its queries on this thread, and the worker's would
      // otherwise hold up the very answer that queued the mail (and time it apart from others).
      if (worker) setImmediate(worker.wake);
    },
    /** Stops the worker, letting sends in flight finish for a moment. */
    close: async () => worker?.close(),
  };
}

export type Mail = ReturnType<typeof createMail>;
