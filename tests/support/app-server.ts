import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Knex } from 'knex';
import { pino, type Logger } from 'pino';
import { createApp, type AppDeps } from '../../src/app.js';
import { createTaskClient, type TaskClient, type TokenPair } from '../../src/client/index.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createDatabase } from '../../src/db/knex.js';
import { listen } from '../../src/http/server.js';
import { createMetrics, registryScrape, serveMetrics } from '../../src/metrics.js';
import { startConformanceProxy } from './conformance-proxy.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface TestServer {
  baseUrl: string;
  knex: Knex;
  /** PostgreSQL only: the app's database without PgBouncer in between, for a test's own sessions. */
  directUrl?: string;
  /** A fresh typed client, the same one other teams use. */
  client(tokens?: TokenPair): TaskClient;
  /** Plain fetch against the server, for requests the typed client cannot make (bad JSON, wrong media types). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  violations: string[];
  /** GET /metrics on its own listener, when the env sets METRICS_PORT (0: any free port). */
  metricsUrl?: string;
  /**
   * Another instance of the app on the same database, with its own connection pool and the same
   * configuration, as a second machine behind a load balancer. Its responses are checked into the
   * same `violations`. PostgreSQL only: PGlite is one connection inside this process.
   */
  sibling(): Promise<TestServer>;
  close(): Promise<void>;
}

/** The real app on port 0 over a fresh, migrated database; every response is checked against the spec. */
export interface ServerOptions {
  /**
   * Bypass the conformance proxy. Only for tests of raw HTTP handling (malformed bodies, header
   * details) that Prism, being a proxy, rewrites or answers itself.
   */
  direct?: boolean;
  /** The mail worker's timings (tests of the outbox make them milliseconds). */
  mailWorker?: AppDeps['mailWorker'];
  /** Where the app logs; by default nowhere, but the cause of each 500 joins the violations. */
  logger?: Logger;
}

export async function startServer(env: Record<string, string> = {}, options: ServerOptions = {}): Promise<TestServer> {
  // Every test client logs in from 127.0.0.1, so a file would pass the per-address password limit;
  // the tests of that limit set it themselves.
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', PASSWORD_RATE_LIMIT: '0', ...env });
  const db: TestDatabase = await createTestDatabase(config.db);
  await db.migrate();
  return serve({ db, config, options, violations: [] });
}

/**
 * A logger that writes nothing but puts the logged cause of each 500 beside its violation: a
 * failure in CI then says what broke, not only which route.
 */
const causesOf500s = (violations: string[]) =>
  pino(
    { level: 'error' },
    {
      write(line: string) {
        const entry = JSON.parse(line) as { req?: { method?: string; path?: string }; res?: { status?: number }; err?: { type?: string; code?: string; message?: string } };
        if (entry.res?.status !== 500) return;
        const { type, code, message } = entry.err ?? {};
        violations.push(`${entry.req?.method} ${entry.req?.path} 500, logged as ${type}${code ? ` ${code}` : ''}: ${message}`);
      },
    },
  );

async function serve(instance: { db: TestDatabase; config: Config; options: ServerOptions; violations: string[] }): Promise<TestServer> {
  const { db, options, violations } = instance;
  // The change listener needs a session of its own: never through PgBouncer's transaction pooling.
  const config = db.directUrl ? { ...instance.config, db: { ...instance.config.db, listenUrl: db.directUrl } } : instance.config;
  const metrics = config.metrics.port === undefined ? undefined : createMetrics(db.knex);
  const { app, close: closeApp } = await createApp({
    config,
    knex: db.knex,
    logger: options.logger ?? causesOf500s(violations),
    metrics,
    mailWorker: options.mailWorker,
    onResponseViolation: (found) => violations.push(...found),
  });
  const server: Server = await listen(app, { ...config.http, port: 0, host: '127.0.0.1' });
  const metricsServer = metrics && (await serveMetrics({ port: config.metrics.port }, registryScrape(metrics.registry)));
  const serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // `make test-conformance` runs the whole suite once more through Prism.
  const proxy = process.env.CONFORMANCE === 'prism' && !options.direct ? await startConformanceProxy(serverUrl) : undefined;
  const baseUrl = proxy?.url ?? serverUrl;
  const checkedFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const found = response.headers.get('sl-violations');
    if (found) violations.push(`prism: ${found}`);
    return response;
  };
  return {
    baseUrl,
    knex: db.knex,
    directUrl: db.directUrl,
    violations,
    metricsUrl: metricsServer && `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`,
    client: (tokens) => createTaskClient({ baseUrl, tokens, fetch: checkedFetch }),
    fetch: (path, init) => checkedFetch(`${baseUrl}${path}`, init),
    async sibling() {
      const { databaseUrl, directUrl } = db;
      if (!databaseUrl) throw new Error('a second instance needs PostgreSQL (TEST_DATABASE_URL)');
      // Through PgBouncer (databaseUrl is not the direct one) statements cannot stay prepared.
      const preparedStatements = databaseUrl === directUrl && config.db.preparedStatements;
      const knex = await createDatabase({ databaseUrl, poolMax: config.db.poolMax, statementTimeoutMs: config.db.statementTimeoutMs, preparedStatements });
      // The database outlives the sibling: only its own pool closes with it.
      const shared: TestDatabase = { knex, databaseUrl, directUrl, migrate: async () => {}, destroy: () => knex.destroy() };
      return serve({ db: shared, config, options, violations });
    },
    async close() {
      proxy?.stop();
      metricsServer?.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await closeApp();
      await db.destroy();
    },
  };
}
