// POST /auth/password-reset must answer an address with an account as it answers one without,
// in about the same time, or the timing tells which addresses have accounts. Prints the three
// cases side by side: an account's first request (a token made, a mail queued), its repeat within
// the minute (nothing changes), and an unknown address. Requests alternate between the cases, so
// that the machine's drift falls on all three alike, with a pause before each: the mail worker
// sends what the first request queued right after its answer, in this process (and, on PGlite, on
// the database's one connection), and each request is measured on a server at rest.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from '../tests/support/app-server.js';
import { database, figures, show, timed } from './support.js';

const N = Number(process.env.BENCH_N ?? 100);
const PAUSE_MS = 30;

const server = await startServer({ BCRYPT_ROUNDS: '4', AUTH_RATE_LIMIT: '0' }, { direct: true });
try {
  const emails = Array.from({ length: N }, () => `timing-${randomUUID()}@example.com`);
  for (const email of emails) await server.client().POST('/auth/register', { body: { email, password: 'correct-horse-battery' } });
  const post = (email: string) => server.client().POST('/auth/password-reset', { body: { email } });
  const reset = async (email: string) => {
    await sleep(PAUSE_MS);
    return timed(() => post(email));
  };
  for (let i = 0; i < 20; i++) await post(`warm-up-${i}@example.com`);

  const first: number[] = [];
  const repeat: number[] = [];
  const unknown: number[] = [];
  for (const email of emails) {
    first.push(await reset(email));
    unknown.push(await reset(`nobody-${randomUUID()}@example.com`));
    repeat.push(await reset(email));
  }
  console.log(`POST /auth/password-reset timing on ${database()} (all 202)`);
  const [known, again, none] = [figures(first), figures(repeat), figures(unknown)];
  show('account: first request (token + mail queued)', known);
  show('account: again within the minute (nothing)', again);
  show('unknown address', none);
  console.log(`median difference first vs unknown: ${(known.p50 - none.p50).toFixed(2)} ms (${((known.p50 / none.p50 - 1) * 100).toFixed(1)} %)`);
} finally {
  await server.close();
}
