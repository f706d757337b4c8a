// Event streams at scale (issue 20): BENCH_STREAMS (1 000) open GET /tasks/events streams on one
// API process, the production build, over a fresh PostgreSQL database (BENCH_STREAMS_DATABASE_URL).
// Prints the memory a stream costs, the time from a commit to its event at every stream of its
// owner while writes run, and what a watched owner's writes cost: POST /tasks through the API for
// an owner without a stream (no NOTIFY) and with one (a NOTIFY at each commit, and the stream's
// read and event for each change, in the same process), alternating rounds.
// The streams, the writer and the load generator share this process and the machine's cores with
// the API and PostgreSQL: compare ratios within one run.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import bcrypt from 'bcrypt';
import { createParser } from 'eventsource-parser';
import pg from 'pg';
import { migrate, recreateDatabase } from './load/database.js';
import { freePort, rssOf, startTarget } from './load/processes.js';

const env = process.env;
const DATABASE_URL = env.BENCH_STREAMS_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/bench_streams';
const STREAMS = Number(env.BENCH_STREAMS ?? 1000);
const PER_USER = 5;
const WRITES_PER_SECOND = Number(env.BENCH_STREAM_WRITES_PER_SECOND ?? 100);
const WRITE_SECONDS = Number(env.BENCH_STREAM_WRITE_SECONDS ?? 10);
const ROUND_SECONDS = Number(env.BENCH_NOTIFY_ROUND_SECONDS ?? 4);
const ROUNDS = Number(env.BENCH_NOTIFY_ROUNDS ?? 3);
const SETTLE_MS = 500;
const PASSWORD = 'bench-password-1';

const say = (text: string) => console.log(text);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function medianRss(pid: number, ms = 2000) {
  const samples: number[] = [];
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) samples.push(rssOf(pid) ?? 0);
  return median(samples);
}

interface Stream {
  ready: Promise<void>;
  close(): void;
}

/** One stream, read with fetch as subscribe() reads it; `onUpsert` gets each upserted task's id. */
async function openStream(url: string, token: string, onUpsert: (id: string) => void): Promise<Stream> {
  const abort = new AbortController();
  const res = await fetch(`${url}/tasks/events`, { headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}` }, signal: abort.signal });
  if (!res.ok || !res.body) throw new Error(`GET /tasks/events: ${res.status} ${await res.text()}`);
  let isReady: () => void = () => undefined;
  let failed: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => ((isReady = resolve), (failed = reject)));
  const parser = createParser({
    onEvent: ({ event, data }) => {
      if (event === 'ready') isReady();
      else if (event === 'upsert') onUpsert((JSON.parse(data) as { task: { id: string } }).task.id);
    },
  });
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
      failed(new Error('the server ended a stream'));
    } catch (error) {
      failed(error as Error);
    }
  })();
  return { ready, close: () => abort.abort() };
}

async function post<T>(url: string, path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function createRps(url: string, token: string): Promise<number> {
  const result = await autocannon({
    url: `${url}/tasks`,
    method: 'POST',
    connections: 16,
    duration: ROUND_SECONDS,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ title: 'Benchmark task', description: 'Written while streams listen.' }),
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`POST /tasks: ${result.non2xx} non-2xx, ${result.errors} errors, statuses ${JSON.stringify(result.statusCodeStats)}`);
  // autocannon stops without waiting for its last 16 answers; until the server has finished those
  // they hold the user's slots (USER_CONCURRENCY_LIMIT, 16), and a next round at once would get 429s.
  await sleep(SETTLE_MS);
  return result.requests.average;
}

await recreateDatabase(DATABASE_URL);
const serverEnv = {
  PATH: env.PATH,
  HOME: env.HOME,
  NODE_ENV: 'production',
  SECRET_KEY: randomBytes(32).toString('hex'),
  DATABASE_URL,
  LOG_LEVEL: 'warn',
  ACCESS_TOKEN_TTL: '86400',
  BCRYPT_ROUNDS: '4',
  AUTH_RATE_LIMIT: '0',
  PASSWORD_RATE_LIMIT: '0',
  USER_WRITE_RATE_LIMIT: '0',
};
await migrate(serverEnv);
const db = new pg.Pool({ connectionString: DATABASE_URL, max: 8 });
const users = Math.ceil(STREAMS / PER_USER) + 2;
const hash = await bcrypt.hash(PASSWORD, 4);
await db.query(`insert into users (email, password_hash) select 'streamer-' || i || '@bench.example', $2 from generate_series(1, $1) i`, [users, hash]);
const emails = Array.from({ length: users }, (_, i) => `streamer-${i + 1}@bench.example`);

say("database ready");
const api = await startTarget('api', ['dist/src/main.js'], serverEnv, await freePort(), join(mkdtempSync(join(tmpdir(), 'bench-streams-')), 'api.log'));
try {
  const logins: { id: string; token: string }[] = [];
  // Six at a time: one address may have at most 8 password checks waiting.
  for (let i = 0; i < emails.length; i += 6) {
    const batch = await Promise.all(emails.slice(i, i + 6).map((email) => post<{ access_token: string }>(api.url, '/auth/login', { email, password: PASSWORD })));
    logins.push(...batch.map((pair) => ({ token: pair.access_token, id: JSON.parse(Buffer.from(pair.access_token.split('.')[1]!, 'base64url').toString()).sub as string })));
  }
  say(`logged in ${logins.length} users`);
  const [quiet, watched, ...streamers] = logins;
  const pid = api.pids()[0]!;

  // Memory: the API's resident set, idle, before and after the streams open.
  const before = await medianRss(pid);
  // An event can arrive before the writer has its commit's answer: times are matched at the end.
  const committed = new Map<string, number>();
  const arrivals = new Map<string, number[]>();
  let arrivedCount = 0;
  const arrived = (id: string) => {
    arrivals.set(id, [...(arrivals.get(id) ?? []), Date.now()]);
    arrivedCount++;
  };
  const streams: Stream[] = [];
  const started = Date.now();
  for (let i = 0; i < STREAMS; i += 50) {
    const batch = Array.from({ length: Math.min(50, STREAMS - i) }, (_, j) => streamers[Math.floor((i + j) / PER_USER)]!);
    streams.push(...(await Promise.all(batch.map((user) => openStream(api.url, user.token, arrived)))));
    if (process.env.BENCH_VERBOSE) say(`${streams.length} streams opened`);
  }
  await Promise.all(streams.map((s) => s.ready));
  say(`opened ${STREAMS} streams (${PER_USER} per user, ${streamers.length} users) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const after = await medianRss(pid, 4000);
  say(`API RSS: ${before.toFixed(0)} MB idle, ${after.toFixed(0)} MB with ${STREAMS} streams: ${(((after - before) * 1024) / STREAMS).toFixed(0)} kB a stream`);

  // Commit to event: inserts at a fixed rate for random streamed owners; each reaches PER_USER streams.
  const owners = streamers.slice(0, Math.ceil(STREAMS / PER_USER));
  const writes: Promise<void>[] = [];
  const writeStart = Date.now();
  for (let n = 0; n < WRITES_PER_SECOND * WRITE_SECONDS; n++) {
    const due = writeStart + (n * 1000) / WRITES_PER_SECOND;
    if (due > Date.now()) await sleep(due - Date.now());
    const owner = owners[Math.floor(Math.random() * owners.length)]!;
    writes.push(
      db.query<{ id: string }>('insert into tasks (owner_id, title) values ($1, $2) returning id', [owner.id, `write ${n}`]).then(({ rows }) => {
        committed.set(rows[0]!.id, Date.now());
      }),
    );
  }
  await Promise.all(writes);
  const expected = writes.length * PER_USER;
  for (let i = 0; i < 100 && arrivedCount < expected; i++) await sleep(100);
  const latencies = [...committed].flatMap(([id, at]) => (arrivals.get(id) ?? []).map((t) => Math.max(0, t - at)));
  const sorted = latencies.sort((a, b) => a - b);
  say(
    `${writes.length} inserts at ${WRITES_PER_SECOND}/s over ${WRITE_SECONDS} s: ${latencies.length} of ${expected} events arrived; ` +
      `commit to event p50 ${percentile(sorted, 0.5)} ms, p99 ${percentile(sorted, 0.99)} ms, max ${sorted.at(-1)} ms`,
  );
  streams.forEach((s) => s.close());
  await sleep(1000);

  // A NOTIFY per write: the same creates for an owner nobody streams, and one with a stream open.
  const watching = await openStream(api.url, watched!.token, () => undefined);
  await watching.ready;
  await createRps(api.url, quiet!.token); // warm-up
  const rounds = { quiet: [] as number[], watched: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, user] of round % 2 === 0 ? ([['quiet', quiet], ['watched', watched]] as const) : ([['watched', watched], ['quiet', quiet]] as const)) {
      rounds[name].push(await createRps(api.url, user!.token));
    }
  }
  watching.close();
  const [q, w] = [median(rounds.quiet), median(rounds.watched)];
  say(
    `POST /tasks, 16 connections: ${q.toFixed(0)} req/s for an owner without a stream (no NOTIFY), ${w.toFixed(0)} with one ` +
      `(a NOTIFY a commit, and the stream reading and sending each change in the same process): ${(w / q).toFixed(2)} ×`,
  );
} finally {
  await api.stop();
  await db.end();
}
