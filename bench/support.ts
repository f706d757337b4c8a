import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';

export interface Figures {
  n: number;
  p50: number;
  p95: number;
  mean: number;
}

/** Runs `fn` n times one after another and returns its latency figures in milliseconds. */
export async function measure(n: number, fn: () => Promise<unknown>): Promise<Figures> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await timed(fn));
  return figures(times);
}

/** How long `fn` takes, in milliseconds. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Latency figures of `times` (milliseconds). */
export function figures(times: number[]): Figures {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}

export const show = (label: string, f: Figures) =>
  console.log(`${label.padEnd(44)} n=${String(f.n).padStart(4)}  p50=${f.p50.toFixed(1).padStart(7)} ms  p95=${f.p95.toFixed(1).padStart(7)} ms  mean=${f.mean.toFixed(1).padStart(7)} ms`);

export const database = () => (process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite');

/** The page statement that a listing runs (the one that carries the total), with its bindings, as knex.raw takes them. */
export async function statementOf(knex: Knex, list: () => Promise<unknown>) {
  const seen: { sql: string; bindings: unknown[] }[] = [];
  const listener = (q: { sql: string; bindings: unknown[] }) => seen.push(q);
  knex.on('query', listener);
  try {
    await list();
  } finally {
    knex.off('query', listener);
  }
  const { sql, bindings } = seen.find((q) => q.sql.includes('total_rows')) ?? seen[0]!;
  // Seen as the driver gets it, with $1, $2…; knex.raw takes ? in the same order.
  return { sql: sql.replace(/\$\d+/g, '?'), bindings };
}
