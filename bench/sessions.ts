// GET /auth/sessions for one account with BENCH_SESSIONS (20 000) live sessions, made in SQL as a
// server without a cap would let them pile up: this build's answer (one page of 100) and a walk of
// every page, against the same request answered by an older checkout at BENCH_BASELINE_DIR (e.g.
// a 1.1 checkout, whose answer is every session at once), seeded alike, in the same run.
// PostgreSQL only (TEST_DATABASE_URL): the baseline is a server process of its own.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { createTaskClient, ok, walk } from '../src/client/index.js';
import { startServer } from '../tests/support/app-server.js';
import { createTestDatabase } from '../tests/support/database.js';
import { answersOk, startMain } from '../tests/support/main-process.js';
import { signUp } from '../tests/support/users.js';
import { measure, show, timed } from './support.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 20_000);
const N = Number(process.env.BENCH_N ?? 20);
const BASELINE_DIR = process.env.BENCH_BASELINE_DIR;
const BASELINE_PORT = 39_417;
if (!process.env.TEST_DATABASE_URL) throw new Error('bench/sessions.ts needs TEST_DATABASE_URL (PostgreSQL)');

/** `count` live sessions of `userId`, each with an unspent refresh token, as many logins would leave. */
async function seed(knex: Knex, userId: string, count: number) {
  await knex.raw(
    `with made as (
       insert into sessions (user_id, user_agent, created_at, last_used_at)
       select ?::uuid, 'Bench/1.0 (session ' || i || ')', now() - make_interval(secs => i), now() - make_interval(secs => i)
       from generate_series(1, ?) i returning id)
     insert into refresh_tokens (session_id, token_hash, expires_at) select id, md5(id::text), now() + interval '7 days' from made`,
    [userId, count],
  );
  await knex.raw('analyze sessions; analyze refresh_tokens');
}

/** Times `get` (a GET /auth/sessions), and the size of one answer. */
async function listing(label: string, get: () => Promise<Response>) {
  const bytes = (await (await get()).arrayBuffer()).byteLength;
  show(`${label} (${(bytes / 1024).toFixed(0)} KiB)`, await measure(N, async () => (await get()).arrayBuffer()));
}

const server = await startServer({ MAX_SESSIONS_PER_USER: '0', AUTH_RATE_LIMIT: '0' }, { direct: true });
try {
  const me = await signUp(server);
  await seed(server.knex, me.id, SESSIONS - 1);
  console.log(`${SESSIONS} live sessions of one account, PostgreSQL`);
  const auth = { Authorization: `Bearer ${me.client.tokens!.access_token}` };
  await listing('this build: GET /auth/sessions (first page)', () => server.fetch('/auth/sessions', { headers: auth }));
  let count = 0;
  const walked = await timed(async () => {
    for await (const _ of walk(me.client, '/auth/sessions')) count++;
  });
  console.log(`this build: every page (${count} sessions, ${Math.ceil(count / 100)} pages) ${walked.toFixed(0)} ms`);

  if (BASELINE_DIR) {
    const db = await createTestDatabase();
    const dataDir = mkdtempSync(join(tmpdir(), 'bench-sessions-'));
    const env = { DATABASE_URL: db.databaseUrl!, DATA_DIR: dataDir, SECRET_KEY: 'bench-'.repeat(8), AUTH_RATE_LIMIT: '0', BCRYPT_ROUNDS: '4' };
    const migrated = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/migrate.ts'], { cwd: BASELINE_DIR, env: { PATH: process.env.PATH, ...env } });
    if (migrated.status !== 0) throw new Error(`baseline migrations failed: ${migrated.stderr}`);
    const main = startMain({ ...env, PORT: String(BASELINE_PORT) }, BASELINE_DIR);
    try {
      const url = `http://127.0.0.1:${BASELINE_PORT}`;
      if (!(await answersOk(`${url}/healthz`))) throw new Error(`the baseline server did not start: ${main.output()}`);
      const client = createTaskClient({ baseUrl: url });
      const credentials = { email: 'baseline@example.com', password: 'correct-horse-battery' };
      const user = await ok(client.POST('/auth/register', { body: credentials }));
      const pair = await ok(client.POST('/auth/login', { body: credentials }));
      await seed(db.knex, user.id, SESSIONS - 1);
      await listing(`baseline ${BASELINE_DIR}: GET /auth/sessions`, () =>
        fetch(`${url}/auth/sessions`, { headers: { Authorization: `Bearer ${pair.access_token}` } }),
      );
    } finally {
      main.child.kill('SIGTERM');
      await new Promise((resolve) => main.child.once('exit', resolve));
      await db.destroy();
    }
  }
} finally {
  await server.close();
}
