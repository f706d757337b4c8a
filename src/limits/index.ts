import type { Knex } from 'knex';
import type { Config } from '../config.js';
import type { SpecLimits } from '../http/rate-limits.js';
import { createLimiterStore } from './limiter.js';

export type { Limiter, Slots } from './limiter.js';

const MINUTE = 60;
// How long a slot taken by a process that died stays taken at most; longer than any request
// runs (REQUEST_TIMEOUT_SECONDS bounds its arrival, DATABASE_STATEMENT_TIMEOUT_MS its statements).
const SLOT_WINDOW_SECONDS = 60;

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
    userReads: store.limiter({
      name: 'user-reads',
      points: config.limits.userReadsPerMinute,
      windowSeconds: MINUTE,
      detail: 'Too many reads from this account; try again later.',
    }),
    userRequestsInFlight: store.slots({
      name: 'user-in-flight',
      points: config.limits.userRequestsInFlight,
      windowSeconds: SLOT_WINDOW_SECONDS,
      retryAfterSeconds: 1,
      detail: `This account already has ${config.limits.userRequestsInFlight} requests in flight; wait for one to finish.`,
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
