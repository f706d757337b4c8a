import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { freePort } from './support/conformance-proxy.js';
import { createTestDatabase, databaseEnv, type TestDatabase } from './support/database.js';
import { answersOk, startMain } from './support/main-process.js';
import { useServer } from './support/server.js';
import { createTask } from './support/tasks.js';
import { signUp } from './support/users.js';

const scrape = async (url: string) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};

/** The value of one sample line, e.g. `metric{a="1"} 3`, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',');
    if (wanted.every((label) => have.includes(label))) return Number(match[3]);
  }
  return undefined;
}

/** `promtool check metrics` (Debian's prometheus package): naming and format problems, or ''. */
async function promtool(text: string): Promise<string> {
  const check = promisify(execFile)('promtool', ['check', 'metrics']);
  check.child.stdin!.end(text);
  return check.then(({ stdout, stderr }) => stdout + stderr, (error: { stdout: string; stderr: string }) => error.stdout + error.stderr);
}

const requests = (route: string, status: number, method = 'GET') => ({
  http_request_method: method,
  http_route: route,
  http_response_status_code: String(status),
});

describe('GET /metrics on METRICS_PORT', () => {
  // Direct: Prism would answer the unmatched path itself, and these tests count what the server saw.
  const server = useServer({ METRICS_PORT: '0' }, { direct: true });
  const metrics = () => server().metricsUrl!;

  it('counts each request under its method, spec route template and status', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const before = sample(await scrape(metrics()), 'http_server_request_duration_seconds_count', requests('/tasks/{id}', 200)) ?? 0;
    await ok(user.client.GET('/tasks/{id}', { params: { path: { id: task.id } } }));
    await ok(user.client.GET('/tasks/{id}', { params: { path: { id: task.id } } }));
    const text = await scrape(metrics());
    expect(sample(text, 'http_server_request_duration_seconds_count', requests('/tasks/{id}', 200))).toBe(before + 2);
    expect(sample(text, 'http_server_request_duration_seconds_count', requests('/tasks', 201, 'POST'))).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'http_server_request_duration_seconds_bucket', { ...requests('/tasks/{id}', 200), le: '+Inf' })).toBe(before + 2);
    expect(sample(text, 'http_server_request_duration_seconds_sum', requests('/tasks/{id}', 200))).toBeGreaterThan(0);
  });

  it('labels requests that match no operation with one fixed route, never their path', async () => {
    const path = `/no-such-place/${crypto.randomUUID()}`;
    expect((await server().fetch(path)).status).toBe(404);
    const text = await scrape(metrics());
    expect(sample(text, 'http_server_request_duration_seconds_count', requests('unmatched', 404))).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('no-such-place');
  });

  it('carries no user id, task id, email or token', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    await ok(user.client.GET('/tasks/{id}', { params: { path: { id: task.id } } }));
    await user.client.GET('/users/{id}', { params: { path: { id: user.id } } });
    const text = await scrape(metrics());
    for (const secret of [user.id, task.id, user.email, user.client.tokens!.access_token, user.client.tokens!.refresh_token]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('http_route="/users/{id}"');
  });

  it('reports the database pool: size, connections in use and idle, queries waiting', async () => {
    const text = await scrape(metrics());
    const pool = { db_client_connection_pool_name: 'knex' };
    // PostgreSQL: DATABASE_POOL_MAX (10 by default); PGlite: its one connection.
    expect(sample(text, 'db_client_connection_max', pool)).toBe(process.env.TEST_DATABASE_URL ? 10 : 1);
    expect(sample(text, 'db_client_connections_usage', { ...pool, db_client_connection_state: 'used' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'db_client_connections_usage', { ...pool, db_client_connection_state: 'idle' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'db_client_connection_pending_requests', pool)).toBe(0);
  });

  it("includes Node's default process metrics", async () => {
    const text = await scrape(metrics());
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'process_start_time_seconds']) {
      expect(sample(text, name)).toBeGreaterThanOrEqual(0);
    }
    expect(sample(text, 'nodejs_active_handles', { type: 'Server' })).toBeGreaterThanOrEqual(1);
  });

  it('passes promtool check metrics: no gauge named like a counter, no reserved suffix', async () => {
    expect(await promtool(await scrape(metrics()))).toBe('');
  });

  it('has the 500 and 503 series of every operation at 0 before any error, so rate() sees the first one', async () => {
    const text = await scrape(metrics());
    for (const [method, route] of [['POST', '/tasks'], ['GET', '/tasks/{id}'], ['POST', '/auth/login'], ['GET', '/readyz']] as const) {
      for (const status of [500, 503]) expect(sample(text, 'http_server_request_duration_seconds_count', requests(route, status, method)), `${method} ${route} ${status}`).toBe(0);
    }
  });

  it('is not served on the API port, and the metrics port serves nothing else', async () => {
    expect((await server().fetch('/metrics')).status).toBe(404);
    expect((await fetch(metrics().replace(/\/metrics$/, '/healthz'))).status).toBe(404);
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('metrics with WEB_CONCURRENCY=2', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.migrate();
  });
  afterAll(() => db?.destroy());

  it('the primary serves one view summed over both workers', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const { child, output } = startMain({
      ...databaseEnv(db),
      WEB_CONCURRENCY: '2',
      DATABASE_POOL_MAX: '3',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
    });
    try {
      const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
      expect(await answersOk(`http://127.0.0.1:${port}/healthz`, 90_000), output()).toBe(true);
      // Each worker answers the primary once its metrics exist: wait until both pools are counted.
      let text = '';
      for (let i = 0; i < 100 && sample(text, 'db_client_connection_max') !== 6; i++) {
        text = await fetch(metricsUrl).then((r) => (r.ok ? r.text() : ''), () => '');
        await sleep(100);
      }
      expect(sample(text, 'db_client_connection_max'), output()).toBe(6);
      const before = sample(text, 'http_server_request_duration_seconds_count', requests('/readyz', 200)) ?? 0;
      // The cluster hands connections to the workers in turn; fresh connections spread the requests.
      for (let i = 0; i < 20; i++) expect((await fetch(`http://127.0.0.1:${port}/readyz`, { headers: { Connection: 'close' } })).status).toBe(200);
      text = await scrape(metricsUrl);
      expect(sample(text, 'http_server_request_duration_seconds_count', requests('/readyz', 200))).toBe(before + 20);
      // The sum leaves the start times out; the primary's own is there, once.
      const started = sample(text, 'process_start_time_seconds')!;
      expect(Math.abs(started - Date.now() / 1000)).toBeLessThan(300);
      expect(text.match(/^process_start_time_seconds /gm)).toHaveLength(1);
      expect(await promtool(text)).toBe('');
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 150_000); // two workers of tsx-compiled sources start slowly on a busy machine (36 s seen)
});
