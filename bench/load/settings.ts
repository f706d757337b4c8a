// Every knob of `make bench-load`, read once. The defaults fit the whole run, from a clean clone,
// in under 10 minutes on a 2-core machine; raise the durations for steadier figures.
import { execFileSync } from 'node:child_process';

const env = process.env;

function number(name: string, fallback: number, min = 1): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min} (got ${JSON.stringify(value)})`);
  return n;
}

function list(name: string): string[] | undefined {
  const value = env[name];
  return value ? value.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // wrk --version prints its usage and exits 1; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

function loadClient(): 'wrk' | 'autocannon' {
  const chosen = env.BENCH_CLIENT;
  if (chosen === 'wrk' || chosen === 'autocannon') return chosen;
  if (chosen) throw new Error(`BENCH_CLIENT must be wrk or autocannon (got ${JSON.stringify(chosen)})`);
  return hasWrk() ? 'wrk' : 'autocannon';
}

export const settings = {
  databaseUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/bench_load',
  /** Worker process counts (WEB_CONCURRENCY) to measure, in order. */
  workers: (list('BENCH_WORKERS') ?? ['1', '2']).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_WORKERS must list positive integers (got ${JSON.stringify(s)})`);
    return n;
  }),
  /** Scenario ids to run (all when unset), e.g. BENCH_ONLY=list-small,get. */
  only: list('BENCH_ONLY'),
  client: loadClient(),
  /** Seconds of each measured round, of the untimed warm-up before a target's first round, of the fixed-load pass. */
  duration: number('BENCH_DURATION', 2),
  warmup: number('BENCH_WARMUP', 1, 0),
  rounds: number('BENCH_ROUNDS', 3),
  fixedDuration: number('BENCH_FIXED_DURATION', 2),
  /** The fixed-load pass runs for the listings, whose targets are latencies; BENCH_FIXED_ALL=1 runs it for every endpoint. */
  fixedAll: Boolean(env.BENCH_FIXED_ALL && env.BENCH_FIXED_ALL !== '0'),
  /** The fixed-load pass offers this fraction of the API's measured maximum. */
  fixedLoad: number('BENCH_FIXED_LOAD', 0.5, 0.01),
  /** Seconds of each of the two identical runs compared for RSS growth. */
  growthDuration: number('BENCH_GROWTH_DURATION', 2),
  connections: number('BENCH_CONNECTIONS', 32),
  /**
   * Logins and bcrypt alone: 8 keeps both cores hashing (libuv runs 4 hashes at a time per process)
   * with answers fast enough for short rounds, and stays under a bounded hashing queue.
   */
  loginConnections: number('BENCH_LOGIN_CONNECTIONS', 8),
  wrkThreads: number('BENCH_WRK_THREADS', 1),
  bcryptRounds: number('BENCH_BCRYPT_ROUNDS', 10, 4),
  /** Connections per process in both servers' pools (DATABASE_POOL_MAX for the API). */
  poolMax: number('BENCH_POOL_MAX', 10),
  users: number('BENCH_USERS', 1000, 100),
  tasks: number('BENCH_TASKS', 100_000, 20_000),
  /** BENCH_PROFILE=1: instead of the table, a CPU profile of the API under one scenario's load. */
  profile: Boolean(env.BENCH_PROFILE && env.BENCH_PROFILE !== '0'),
  profileScenario: env.BENCH_PROFILE_SCENARIO || 'list-small',
  profileWorkers: number('BENCH_PROFILE_WORKERS', 2),
  profileDuration: number('BENCH_PROFILE_DURATION', 20),
  resultsDir: env.BENCH_RESULTS_DIR || 'bench/results',
};

export type Settings = typeof settings;
