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

interface Waiting {
  start(): void;
  /** Whether the job's client has gone (closed its connection): its turn would be wasted. */
  gone(): boolean;
  drop(): void;
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
  const lines = new Map<string, Waiting[]>();
  let running = 0;
  let waiting = 0;
  let averageMs = 0;

  // Hands the freed slot to the first key in line, which then goes to the back.
  function next() {
    const first = lines.entries().next();
    if (first.done || running >= bounds.running) return;
    const [key, line] = first.value;
    lines.delete(key);
    const job = line.shift()!;
    if (line.length > 0) lines.set(key, line);
    waiting--;
    if (job.gone()) {
      job.drop();
      return next();
    }
    running++;
    job.start();
  }

  // A client that gave up keeps no place: else a few closed connections fill a key's line and
  // refuse its next checks for as long as the dead ones would have run.
  function dropGone(key: string, line: Waiting[]) {
    const left: Waiting[] = [];
    for (const job of line) {
      if (!job.gone()) left.push(job);
      else {
        job.drop();
        waiting--;
      }
    }
    if (left.length > 0) lines.set(key, left);
    else lines.delete(key);
    return left;
  }

  const clientGone = () => problems.unavailable('The client closed the connection before its password check.', 1);

  function refuse(): never {
    const seconds = ((waiting + running) * averageMs) / bounds.running / 1000;
    throw problems.unavailable('Too many password checks are waiting; try again shortly.', seconds);
  }

  return {
    /** Runs `job` in `key`'s turn; `gone` tells whether its client is still there to answer. */
    async run<T>(key: string, job: () => Promise<T>, gone: () => boolean = () => false): Promise<T> {
      if (running < bounds.running && waiting === 0) {
        running++;
      } else {
        const line = dropGone(key, lines.get(key) ?? []);
        if (line.length >= bounds.waitingPerKey || waiting >= bounds.waiting) refuse();
        // next() takes the slot for this job before starting it.
        await new Promise<void>((resolve, reject) => {
          line.push({ start: resolve, gone, drop: () => reject(clientGone()) });
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
