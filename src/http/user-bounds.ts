import type { Operation } from 'openapi-backend';
import type { Limiter, Slots } from '../limits/index.js';

type WithLongLived = { 'x-long-lived'?: boolean };

const nothingToRelease = async () => {};

/**
 * Runs at most `size` calls per key at once; the others wait their turn, first come first served.
 * The keys are users: one user's many requests then never hold more than `size` of a process's
 * database connections, nor keep more than `size` of the database's cores busy. Written here:
 * p-limit and its kin bound one queue, not one per key that is dropped once idle.
 */
function turnsPerKey(size: number) {
  const keys = new Map<string, { running: number; waiting: (() => void)[] }>();
  return async (key: string): Promise<() => void> => {
    let entry = keys.get(key);
    if (!entry) keys.set(key, (entry = { running: 0, waiting: [] }));
    const own = entry;
    if (own.running < size) own.running++;
    else await new Promise<void>((resolve) => own.waiting.push(resolve));
    return () => {
      const next = own.waiting.shift();
      if (next) next(); // its place passes straight on
      else if (--own.running === 0) keys.delete(key);
    };
  };
}

export interface UserBoundSettings {
  reads: Limiter;
  inFlight: Slots;
  /** How many of one user's requests a process runs at once; the rest of its requests in flight wait. */
  runningPerUser: number;
}

/**
 * One user's fair share, for every authenticated operation: a cap on its requests in flight and a
 * rate of reads (GETs), both shared by every process; and, in each process, at most
 * `runningPerUser` of its requests running at once, so that whatever one user sends, the others
 * find database connections free. Operations marked `x-long-lived` in the spec (event streams,
 * which hold their response open for hours and have a cap of their own) do not count as in
 * flight. Resolves to the release of the request's place, to be called once it is answered.
 */
export function createUserBounds({ reads, inFlight, runningPerUser }: UserBoundSettings) {
  const turn = turnsPerKey(runningPerUser);
  return async (operation: Operation, userId: string): Promise<() => Promise<void>> => {
    if ((operation as WithLongLived)['x-long-lived']) {
      if (operation.method === 'get') await reads.take(userId);
      return nothingToRelease;
    }
    // The slot first: past the cap it is refused in memory, without a trip to the store.
    const release = await inFlight.take(userId);
    try {
      if (operation.method === 'get') await reads.take(userId);
    } catch (error) {
      await release();
      throw error;
    }
    const done = await turn(userId);
    return async () => {
      done();
      await release();
    };
  };
}

export type UserBounds = ReturnType<typeof createUserBounds>;
