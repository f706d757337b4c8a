import type { Knex } from 'knex';

// The rate limiter's counters (per address, per user, requests in flight) are written on nearly
// every request: three upserts for an authenticated GET. Unlogged, an upsert writes no WAL and its
// commit waits for no flush: about 2.8 times the upserts a second on this kind of machine (pgbench,
// 8 clients: 11 400 logged, 31 500 unlogged), on the cores the API's own queries share. What it
// gives up is a count after a crash or on a standby, which start again from zero: a limit then
// forgets at most one window, as a process that dies holding slots already does.
//
// The table holds one row per key and live window (expired ones are pruned), so the rewrite this
// takes is short; its lock is held only for that.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table rate_limiter set unlogged');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table rate_limiter set logged');
}
