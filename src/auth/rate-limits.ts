import type { Knex } from 'knex';

export interface Window {
  hits: number;
  /** Seconds until the window ends. */
  resetsIn: number;
}

/**
 * Fixed-window counters in the database, so that every process and machine shares them. Each
 * hit is one atomic upsert: concurrent hits never lose a count.
 */
export function createRateLimits(knex: Knex) {
  const resetsIn = (started: Date, windowSeconds: number) =>
    Math.max(1, Math.ceil((started.getTime() + windowSeconds * 1000 - Date.now()) / 1000));

  return {
    async hit(key: string, windowSeconds: number): Promise<Window> {
      const { rows } = await knex.raw<{ rows: { hits: number; window_started_at: Date }[] }>(
        `insert into rate_limits (key, hits, window_started_at) values (:key, 1, now())
         on conflict (key) do update set
           hits = case when rate_limits.window_started_at <= now() - make_interval(secs => :window) then 1 else rate_limits.hits + 1 end,
           window_started_at = case when rate_limits.window_started_at <= now() - make_interval(secs => :window) then now() else rate_limits.window_started_at end
         returning hits, window_started_at`,
        { key, window: windowSeconds },
      );
      const row = rows[0]!;
      return { hits: row.hits, resetsIn: resetsIn(row.window_started_at, windowSeconds) };
    },

    async clear(key: string): Promise<void> {
      await knex('rate_limits').where('key', key).delete();
    },
  };
}

export type RateLimits = ReturnType<typeof createRateLimits>;
