import { Counter, Gauge, type Registry } from 'prom-client';
import type { Outbox } from './outbox.js';

/** The outbox's figures, in the process's registry when METRICS_PORT is set. */
export function createMailMetrics(registry: Registry | undefined, outbox: Outbox) {
  const registers = registry ? [registry] : [];
  const labelNames = ['mail_kind'] as const;
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers });
  let lastWaiting = 0;
  new Gauge({
    name: 'mail_outbox_queued',
    help: 'Mails in the outbox waiting to be sent, now or after a retry; the same figure from every process.',
    registers,
    // Every process reads the same table: a cluster's view takes one reading, not their sum.
    aggregator: 'max',
    async collect() {
      // A scrape while the database is away shows the last reading.
      lastWaiting = await outbox.waiting().catch(() => lastWaiting);
      this.set(lastWaiting);
    },
  });
  return {
    queued: counter('mail_queued_total', 'Mails queued in the outbox by this process.'),
    sent: counter('mail_sent_total', 'Mails the SMTP server accepted (or, without SMTP_URL in development, logged).'),
    retried: counter('mail_retries_total', 'Sending attempts that failed and will be tried again: the SMTP server was unreachable, slow, or answered 4xx.'),
    failed: counter('mail_failed_total', 'Mails given up: the SMTP server answered 5xx, or they were retried past their time.'),
  };
}

export type MailMetrics = ReturnType<typeof createMailMetrics>;
