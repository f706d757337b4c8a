import type { Knex } from 'knex';
import type { Config } from '../config.js';
import type { SpecLimits } from '../http/rate-limits.js';
import { createLimiterStore } from './limiter.js';

export type { Limiter } from './limiter.js';

const MINUTE = 60;

/** Every rate limit of the service, shared by all processes on PostgreSQL. */
export function createLimits(config: Config, knex: Knex) {
  const store = createLimiterStore(knex);
  return {
    authRequests: store.limiter({
      name: 'address',
      points: config.limits.authRequestsPerMinute,
      windowSeconds: MINUTE,
      detail: 'Too many requests from this address; try again later.',
    }),
    passwordChecks: store.limiter({
      name: 'password',
      points: config.limits.passwordChecksPerMinute,
      windowSeconds: MINUTE,
      detail: 'Too many password checks from this address; try again later.',
    }),
    taskWrites: store.limiter({
      name: 'task-writes',
      points: config.limits.taskWritesPerMinute,
      windowSeconds: MINUTE,
      detail: 'Too many task changes from this account; try again later.',
    }),
    close: store.close,
  };
}

export type Limits = ReturnType<typeof createLimits>;

/** The limits an operation can name with `x-rate-limit` in the spec, and what each counts per. */
export const specLimits = (limits: Limits): SpecLimits => ({
  password: ({ client }) => limits.passwordChecks.take(client()),
  'task-writes': ({ caller }) => limits.taskWrites.take(caller!.userId),
});
