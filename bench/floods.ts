// What one address's flood does to everyone else (issue 11): another client's GET /tasks while
// 200 connections send junk refreshes, and another address's login while 100 logins with unknown
// emails queue for bcrypt. Clients are told apart by X-Forwarded-For from a trusted loopback proxy.
import { performance } from 'node:perf_hooks';
import { ok } from '../src/client/index.js';
import { startServer, type TestServer } from '../tests/support/app-server.js';
import { signUp } from '../tests/support/users.js';
import { database, measure, show } from './support.js';

const REFRESH_FLOOD = Number(process.env.BENCH_REFRESH_FLOOD ?? 200);
const LOGIN_FLOOD = Number(process.env.BENCH_LOGIN_FLOOD ?? 100);
const N = Number(process.env.BENCH_N ?? 40);

const from = (address: string, headers: Record<string, string> = {}) => ({ 'X-Forwarded-For': address, ...headers });
const json = { 'Content-Type': 'application/json' };

/** Keeps `width` requests in flight until `stop` resolves; returns the statuses seen. */
async function flood(width: number, send: () => Promise<Response>, stop: Promise<unknown>) {
  let running = true;
  void stop.then(() => (running = false));
  const statuses = new Map<number, number>();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (running) {
        const res = await send().catch(() => undefined);
        await res?.arrayBuffer();
        const status = res?.status ?? 0;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return Object.fromEntries(statuses);
}

async function refreshFlood(server: TestServer) {
  const me = await signUp(server);
  await ok(me.client.POST('/tasks', { body: { title: 'Write the quarterly report' } }));
  const list = () => ok(me.client.GET('/tasks', { headers: from('203.0.113.5') }));
  show('GET /tasks, quiet', await measure(N, list));
  const junk = () =>
    fetch(`${server.baseUrl}/auth/refresh`, { method: 'POST', headers: from('198.51.100.1', json), body: '{"refresh_token":"junk"}' });
  let done!: () => void;
  const stop = new Promise<void>((resolve) => (done = resolve));
  const flooding = flood(REFRESH_FLOOD, junk, stop);
  const during = await measure(N, list);
  done();
  show(`GET /tasks, ${REFRESH_FLOOD} junk refreshes in flight`, during);
  console.log('  flood statuses', await flooding);
}

async function loginFlood(server: TestServer) {
  const victim = await signUp(server);
  const login = () =>
    server.client().POST('/auth/login', { body: { email: victim.email, password: victim.password }, headers: from('203.0.113.5') });
  show('login, quiet', await measure(5, login));
  const statuses = new Map<number, number>();
  const unknown = Array.from({ length: LOGIN_FLOOD }, (_, i) =>
    fetch(`${server.baseUrl}/auth/login`, {
      method: 'POST',
      headers: from('198.51.100.1', json),
      body: JSON.stringify({ email: `nobody-${i}@example.com`, password: 'not-the-password' }),
    }).then(async (res) => {
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }),
  );
  const start = performance.now();
  const { response } = await login();
  const took = performance.now() - start;
  const floodStart = performance.now();
  await Promise.all(unknown);
  console.log(`login from another address during ${LOGIN_FLOOD} unknown-email logins: ${took.toFixed(0)} ms (status ${response.status}); flood took ${(performance.now() - floodStart + took).toFixed(0)} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
}

console.log(`floods on ${database()}`);
const first = await startServer({ TRUSTED_PROXIES: 'loopback' }, { direct: true });
try {
  await refreshFlood(first);
} finally {
  await first.close();
}
const second = await startServer({ TRUSTED_PROXIES: 'loopback', BCRYPT_ROUNDS: '10', PASSWORD_RATE_LIMIT: '100' }, { direct: true });
try {
  await loginFlood(second);
} finally {
  await second.close();
}
