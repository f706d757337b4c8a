import { performance } from 'node:perf_hooks';
import { problems } from '../http/problem.js';

export interface FairQueueBounds {
  /** Jobs run at once. */
  running: number;
  /** Jobs one key may have waiting. */
  waitingPerKey: number;
  /** Jobs waiting in all. */
  waiting: number;
}

/**
 * Runs CPU-bound jobs (bcrypt) a few at a time, taking turns between keys (client addresses):
 * each freed slot goes to the next key in line, and a key goes to the back after each of its
 * jobs. So one key's flood makes another key's job wait for one job per busy key, not for the
 * whole flood. A job that finds its key's line or the whole queue full is refused at once with
 * 503 and Retry-After, rather than waiting.
 *
 * Written here because the queue libraries on npm (p-queue, fastq, bottleneck) are first come,
 * first served, or scope concurrency per group; none takes turns between keys under one
 * shared concurrency.
 */
export function createFairQueue(bounds: FairQueueBounds) {
  // Insertion order is turn order.
  const lines = new Map<string, (() => void)[]>();
  let running = 0;
  let waiting = 0;
  let averageMs = 0;

  // Hands the freed slot to the first key in line, which then goes to the back.
  function next() {
    const first = lines.entries().next();
    if (first.done || running >= bounds.running) return;
    const [key, line] = first.value;
    lines.delete(key);
    const start = line.shift()!;
    if (line.length > 0) lines.set(key, line);
    waiting--;
    running++;
    start();
  }

  function refuse(): never {
    const seconds = ((waiting + running) * averageMs) / bounds.running / 1000;
    throw problems.unavailable('Too many password checks are waiting; try again shortly.', seconds);
  }

  return {
    async run<T>(key: string, job: () => Promise<T>): Promise<T> {
      if (running < bounds.running && waiting === 0) {
        running++;
      } else {
        const line = lines.get(key) ?? [];
        if (line.length >= bounds.waitingPerKey || waiting >= bounds.waiting) refuse();
        // next() takes the slot for this job before starting it.
        await new Promise<void>((resolve) => {
          line.push(resolve);
          lines.set(key, line);
          waiting++;
        });
      }
      const started = performance.now();
      try {
        return await job();
      } finally {
        const took = performance.now() - started;
        averageMs = averageMs === 0 ? took : averageMs * 0.9 + took * 0.1;
        running--;
        next();
      }
    },
  };
}
