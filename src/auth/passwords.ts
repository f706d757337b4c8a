import { availableParallelism } from 'node:os';
import bcrypt from 'bcrypt';
import { createFairQueue } from './fair-queue.js';

/** bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut. */
export const MAX_PASSWORD_BYTES = 72;

export const passwordTooLong = (password: string) => Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;

/** Who a password check is for: checks take turns between addresses, and skip a client that has gone. */
export interface PasswordClient {
  /** The client address key (see clientAddress). */
  address: string;
  /** Whether the client has closed its connection. */
  gone(): boolean;
}

export const hashPassword = (password: string, rounds: number) => bcrypt.hash(password, rounds);

// bcrypt runs on libuv's thread pool (4 threads by default). One core is left to the event loop
// (and a local database), which serve every other request: with bcrypt on both cores of this
// 2-core box, another address's login during a flood spent as long in parsing, queries and
// waiting as in its own hash. At cost 12 (~230 ms here) 32 waiting checks drain in about 7 s on
// one thread; one address may hold 8 of them, so people behind one NAT can still log in together.
const QUEUE_BOUNDS = { running: Math.min(Math.max(1, availableParallelism() - 1), 4), waitingPerKey: 8, waiting: 32 };

/**
 * Every bcrypt of a request, through one bounded queue that takes turns between client
 * addresses: a flood from one address cannot make others wait behind it.
 */
export function createPasswords(rounds: number) {
  const queue = createFairQueue(QUEUE_BOUNDS);
  // Compared against when the email is unknown, so that case costs as much as a wrong password.
  // Hashed off the main thread: hashSync held up every start-up by one full hash.
  const dummyHash = bcrypt.hash('not-a-password-anyone-has', rounds);
  return {
    /** Whether `password` matches `hash`; an unknown account (no hash) costs the same and never matches. */
    matches: (client: PasswordClient, password: string, hash: string | undefined) =>
      queue
        .run(client.address, async () => bcrypt.compare(password, hash ?? (await dummyHash)), client.gone)
        .then((ok) => ok && hash !== undefined),
    hash: (client: PasswordClient, password: string) => queue.run(client.address, () => hashPassword(password, rounds), client.gone),
  };
}

export type Passwords = ReturnType<typeof createPasswords>;
