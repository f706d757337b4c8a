import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { problems } from '../http/problem.js';
import type { PasswordClient } from './passwords.js';

export interface LoginFailureSettings {
  /** Wrong passwords for one account from one client address in a window (LOGIN_MAX_FAILURES). */
  perAddress: number;
  /** Wrong passwords for one account from all addresses in a window (LOGIN_ACCOUNT_MAX_FAILURES); 0: no ceiling. */
  perAccount: number;
  windowSeconds: number;
}

interface Counter {
  key: string;
  max: number;
  detail: string;
}

interface Row {
  key: string;
  failures: number;
  pending: number;
  expired: boolean;
  /** Milliseconds until the window ends. */
  resets_in: number;
}

// While every check an account still has room for is in flight, a further attempt waits for one
// of them to end rather than be refused: polled, as the check may run in another process. Past
// the wait it is refused like any other attempt over the limit.
const FIRST_PAUSE_MS = 10;
const LONGEST_PAUSE_MS = 200;
const LONGEST_WAIT_MS = 10_000;

const byAddress = 'Too many failed password attempts for this email; try again later.';
const byAccount = 'Too many failed password attempts for this account; try again later.';
const crowded = 'Too many password checks for this email are running; try again in a moment.';

/**
 * Failed logins, counted per account and client address and per account across addresses, in the
 * `login_failures` table shared by every process. Only a wrong password counts. An attempt reserves
 * its place (`pending`) before its password is checked, and the check's outcome settles it: a
 * wrong password turns the reservation into a failure (`failures`), a right one gives it back. So
 * however many attempts run at once, no more password checks start than the failures still
 * allowed, and correct passwords never count; an attempt that finds only reservations in its way
 * waits for them rather than being refused. A reservation whose process died before settling it
 * is forgotten when its window ends.
 */
export function createLoginFailures(knex: Knex, settings: LoginFailureSettings) {
  const countersOf = (email: string, address: string): Counter[] => {
    const account = email.toLowerCase();
    // The account's key sorts first, so every attempt locks its rows in one order.
    const counters = settings.perAccount > 0 ? [{ key: `login-account:${account}`, max: settings.perAccount, detail: byAccount }] : [];
    return [...counters, { key: `login-address:${address} ${account}`, max: settings.perAddress, detail: byAddress }];
  };
  const keysOf = (counters: Counter[]) => counters.map((c) => c.key);

  // Nothing unlocks a locked key before its window ends (the right password is refused too), so
  // until then this process refuses its attempts from memory, without a transaction each.
  const locks = new Map<string, { until: number; detail: string }>();
  const lockOf = (counters: Counter[]) => {
    for (const { key } of counters) {
      const lock = locks.get(key);
      if (lock && lock.until > Date.now()) return lock;
      locks.delete(key);
    }
    return undefined;
  };
  const refuse = ({ until, detail }: { until: number; detail: string }) => problems.tooManyRequests(Math.max(1, Math.ceil((until - Date.now()) / 1000)), detail);

  // Whether a row's window is over; the window is a validated integer, so it can be part of the text.
  const windowOver = `window_started_at <= now() - make_interval(secs => ${settings.windowSeconds})`;

  // One statement, one round trip (it was a transaction of five, each a round trip): the
  // counters' rows are locked in key order, as settle() locks them, and read as they are now; only
  // if every one has room does the same statement take a place under each. A window that is over
  // starts again with this attempt, its leftover reservations forgotten. A counter seen for the
  // first time has no row: nothing is taken, the rows are made, and the statement runs again.
  const reserveText = (n: number) => `
    with counters (key, max) as (values ${Array.from({ length: n }, () => '(?::text, ?::int)').join(', ')}),
    found as (
      select key, failures, pending, ${windowOver} as expired,
        ceil(extract(epoch from window_started_at + make_interval(secs => ${settings.windowSeconds}) - now()) * 1000)::int as resets_in
      from login_failures where key in (select key from counters) order by key for update),
    verdict as (
      select count(*) = ${n} and coalesce(bool_and(expired or failures + pending < max), true) as room
      from found join counters using (key)),
    taken as (
      update login_failures set
        failures = case when ${windowOver} then 0 else failures end,
        pending = case when ${windowOver} then 1 else pending + 1 end,
        window_started_at = case when ${windowOver} then now() else window_started_at end
      where key in (select key from counters) and (select room from verdict)
      returning key)
    select key, failures, pending, expired, resets_in, exists (select from taken) as taken
    from found`;
  const reserveTexts = [reserveText(1), reserveText(2)];

  /** Reserves a password check under every counter, or says why not: a key is locked, or only crowded. */
  const reserve = async (counters: Counter[]) => {
    const bindings = counters.flatMap((c) => [c.key, c.max]);
    for (;;) {
      const { rows } = await knex.raw<{ rows: (Row & { taken: boolean })[] }>(reserveTexts[counters.length - 1]!, bindings).options({ name: 'login-reserve' });
      if (rows[0]?.taken) return { taken: true };
      if (rows.length < counters.length) {
        await knex('login_failures')
          .insert(keysOf(counters).map((key) => ({ key, failures: 0, pending: 0, window_started_at: knex.fn.now() })))
          .onConflict('key')
          .ignore();
        continue;
      }
      const locked = rows.filter((row) => !row.expired && row.failures >= counterOf(counters, row).max);
      if (locked.length === 0) return { crowded: true };
      const longest = locked.reduce((a, b) => (a.resets_in >= b.resets_in ? a : b));
      return { locked: { key: longest.key, until: Date.now() + longest.resets_in, detail: counterOf(counters, longest).detail } };
    }
  };

  // Locks its rows in key order, as reserve() does: in the order of a scan, an attempt settling
  // could hold one key while another attempt's reservation holds the other (a deadlock).
  const settle = (counters: Counter[], outcome: 'wrong' | 'right' | 'unchecked') =>
    knex('login_failures')
      .whereIn('key', knex('login_failures').select('key').whereIn('key', keysOf(counters)).orderBy('key').forUpdate())
      .update({
        pending: knex.raw('greatest(pending - 1, 0)'),
        failures: knex.raw('case when ? then failures + 1 when ? and key = ? then 0 else failures end', [
          outcome === 'wrong',
          outcome === 'right',
          counters.at(-1)!.key,
        ]),
      });

  return {
    /**
     * Runs `check` (a password comparison) if the account may have its password checked from
     * `client.address` now, and counts its outcome: false (a wrong password) is a failure; true
     * clears this address's failures for the account, but not the account's own count, which
     * would otherwise give someone guessing from many addresses a fresh budget each time the
     * owner logs in. Over either limit: 429 with Retry-After, the right password too.
     */
    async check(email: string, client: PasswordClient, check: () => Promise<boolean>): Promise<boolean> {
      const counters = countersOf(email, client.address);
      const known = lockOf(counters);
      if (known) throw refuse(known);
      const deadline = Date.now() + LONGEST_WAIT_MS;
      for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, LONGEST_PAUSE_MS)) {
        const reservation = await reserve(counters);
        if (reservation.taken) break;
        if (reservation.locked) {
          const { key, ...lock } = reservation.locked;
          // Locks no attempt asks about again would stay: past a thousand, the ended ones go.
          if (locks.size >= 1000) for (const [k, l] of locks) if (l.until <= Date.now()) locks.delete(k);
          locks.set(key, lock);
          throw refuse(lock);
        }
        if (Date.now() + pause > deadline || client.gone()) throw problems.tooManyRequests(1, crowded);
        await sleep(pause);
      }
      let matched;
      try {
        matched = await check();
      } catch (error) {
        await settle(counters, 'unchecked');
        throw error;
      }
      await settle(counters, matched ? 'right' : 'wrong');
      return matched;
    },
  };
}

const counterOf = (counters: Counter[], row: Row) => counters.find((c) => c.key === row.key)!;

export type LoginFailures = ReturnType<typeof createLoginFailures>;
