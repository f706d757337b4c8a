import type { Operation } from 'openapi-backend';
import type { Caller } from './operations.js';

/** Who a request counts as, for the limit its operation names. */
export interface Subject {
  /** The client address key (see clientAddress), worked out only for the operations that count by it. */
  client(): string;
  caller?: Caller;
}

/** Each limit an operation may name, counting one hit for the request. */
export type SpecLimits = Record<string, (subject: Subject) => Promise<void>>;

type WithRateLimit = { 'x-rate-limit'?: string };

/**
 * The spec's `x-rate-limit` on an operation names the limit its calls count against; applied
 * here for every operation, once the request is known to be valid and before its handler. A name
 * the service does not know stops start-up rather than letting requests through unlimited.
 */
export function createRateLimitCheck(operations: Operation[], limits: SpecLimits) {
  for (const operation of operations as (Operation & WithRateLimit)[]) {
    const name = operation['x-rate-limit'];
    if (name !== undefined && !(name in limits)) throw new Error(`${operation.operationId} names an unknown x-rate-limit: ${name}`);
  }
  return async (operation: Operation, subject: Subject) => {
    const name = (operation as WithRateLimit)['x-rate-limit'];
    if (name !== undefined) await limits[name]!(subject);
  };
}
