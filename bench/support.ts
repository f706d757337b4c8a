import { performance } from 'node:perf_hooks';

export interface Figures {
  n: number;
  p50: number;
  p95: number;
  mean: number;
}

/** Runs `fn` n times one after another and returns its latency figures in milliseconds. */
export async function measure(n: number, fn: () => Promise<unknown>): Promise<Figures> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { n, p50: at(0.5), p95: at(0.95), mean: times.reduce((a, b) => a + b, 0) / n };
}

export const show = (label: string, f: Figures) =>
  console.log(`${label.padEnd(44)} n=${String(f.n).padStart(4)}  p50=${f.p50.toFixed(1).padStart(7)} ms  p95=${f.p95.toFixed(1).padStart(7)} ms  mean=${f.mean.toFixed(1).padStart(7)} ms`);

export const database = () => (process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite');
