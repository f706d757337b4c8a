import type { Knex } from 'knex';

// Every login writes its two failed-login counters three times (a reservation and its settling, in
// two transactions), and each of those commits waited for a WAL flush: a login made three flushes
// where its session needs one. Unlogged, as the rate limiter's counters are, the counters write no
// WAL and their commits wait for no flush. What it gives up is the counts after a crash or on a
// standby, which start again from zero, as if every window had ended: a guesser gets at most one
// fresh window per database crash, which no client can cause.
//
// The table holds one row per account and address with a window in the last day (older ones are
// pruned), so the rewrite this takes is short; its lock is held only for that.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table login_failures set unlogged');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table login_failures set logged');
}
