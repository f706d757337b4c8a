import cluster from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { pruneExpired } from './auth/pruning.js';
import { allListenersClosed, runPrimary } from './cluster.js';
import { loadConfigOrExit, StartupError, type Config } from './config.js';
import { migrateToLatest, pendingMigrations } from './db/migrate.js';
import { listen, stop } from './http/server.js';
import { createLogger, routeConsoleToLogger } from './logging.js';
import { openDatabase } from './db/open.js';
import { clusterScrape, createMetrics, registryScrape, serveMetrics } from './metrics.js';
import { ensureAdmin } from './users/admin.js';

const PRUNE_EVERY_MS = 60 * 60 * 1000;

// Where start-up time goes (node, tsx and imports are `boot`): logged at debug, read by bench/startup.ts.
const phases: Record<string, number> = { boot: Math.round(performance.now()) };
async function timed<T>(phase: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await work();
  } finally {
    phases[phase] = Math.round(performance.now() - start);
  }
}

async function prepareDatabase(config: Config, logger: Logger) {
  const knex = await timed('database', () => openDatabase(config));
  if (config.env === 'production') {
    // Migrations are the release step's job (`npm run migrate`): several instances starting at
    // once would race for knex's migration lock. A schema ahead of this build is fine (a newer
    // release migrated first); one behind it is not.
    const pending = await pendingMigrations(knex);
    if (pending.length > 0) {
      logger.fatal({ pending }, 'the database schema is behind this build: run the migrations first (npm run migrate; in Docker the migrate command)');
      await knex.destroy();
      process.exit(1);
    }
  } else {
    const applied = await timed('migrations', () => migrateToLatest(knex));
    if (applied.length > 0) logger.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
  }
  const { admin } = config;
  if (admin) {
    const outcome = await timed('admin', () => ensureAdmin(knex, admin, config.auth.bcryptRounds));
    if (outcome === 'created') logger.info({ email: admin.email }, 'created the first admin');
    if (outcome === 'exists-without-admin-role') {
      logger.warn({ email: admin.email }, 'ADMIN_EMAIL belongs to an existing account without the admin role; left unchanged');
    }
  }
  return knex;
}

async function serve(config: Config, logger: Logger, knex: Knex) {
  let stopping = false;
  let listening: Promise<Server> | undefined;
  let metricsServer: Server | undefined;
  // /readyz answers 503 from the first moment, so that a load balancer stops sending new requests
  // while the server still answers them; then the listener closes and requests in flight finish.
  // Set up before the listener opens: in a cluster, connections come as soon as it does.
  const shutDown = async (signal: string) => {
    stopping = true;
    clearInterval(pruning);
    const { drainSeconds, graceSeconds } = config.shutdown;
    logger.info({ signal, drain_seconds: drainSeconds, grace_seconds: graceSeconds }, 'shutting down');
    const server = await listening;
    // Event streams never finish by themselves: they end at the start of the drain, with a retry hint.
    endStreams?.();
    if (server) await stop(server, { drainMs: drainSeconds * 1000, graceMs: graceSeconds * 1000, listenersClosed: allListenersClosed });
    metricsServer?.closeAllConnections();
    metricsServer?.close();
    await close?.();
    await knex.destroy();
    logger.info('stopped');
    process.exit(0);
  };
  let pruning: NodeJS.Timeout | undefined;
  let close: (() => Promise<void>) | undefined;
  let endStreams: (() => void) | undefined;
  process.once('SIGTERM', () => void shutDown('SIGTERM'));
  process.once('SIGINT', () => void shutDown('SIGINT'));

  const metrics = config.metrics.port === undefined ? undefined : createMetrics(knex);
  const created = await timed('app', () => createApp({ config, knex, logger, metrics, isStopping: () => stopping }));
  close = created.close;
  endStreams = created.endStreams;
  if (stopping) return;
  listening = listenOrExplain(() => listen(created.app, config.http), config.http, 'PORT');
  const server = await listening;
  // In a cluster the primary serves the workers' metrics, aggregated.
  if (metrics && cluster.isPrimary) {
    metricsServer = await listenOrExplain(() => serveMetrics(config.metrics, registryScrape(metrics.registry)), config.metrics, 'METRICS_PORT');
  }
  const { port } = server.address() as AddressInfo;
  const database = config.db.url ? 'postgresql' : 'embedded';
  logger.info({ port, metricsPort: config.metrics.port, database, startup_ms: Math.round(performance.now()) }, `listening on http://localhost:${port}`);
  logger.debug({ phases_ms: phases }, 'start-up phases');

  const prune = () => pruneExpired(knex, { syncRetentionSeconds: config.sync.retentionSeconds }).catch((err) => logger.warn({ err }, 'pruning expired tokens failed'));
  void prune();
  pruning = setInterval(prune, PRUNE_EVERY_MS).unref();
}

/** A listener that cannot bind ends start-up with one line that says why, not a stack trace. */
async function listenOrExplain<T>(start: () => Promise<T>, { port, host }: { port?: number; host?: string }, variable: string): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const where = `${host ?? 'every interface'} port ${port}`;
    const why = code === 'EADDRINUSE' ? 'the port is in use (is another server still running?)' : code === 'EADDRNOTAVAIL' ? 'no interface of this machine has that address' : message;
    throw new StartupError(`cannot listen on ${where} (${variable}): ${why}`);
  }
}

const config = loadConfigOrExit();
const logger = await createLogger(config);
if (config.logFormat === 'json') routeConsoleToLogger(logger);
const stopWithinMs = (config.shutdown.drainSeconds + config.shutdown.graceSeconds) * 1000;

try {
  if (cluster.isPrimary) {
    // Migrate and seed once, before any worker starts: knex's migration lock would fail the others.
    const knex = await prepareDatabase(config, logger);
    if (config.webConcurrency === 1) {
      await serve(config, logger, knex);
    } else {
      await knex.destroy();
      const metricsServer = config.metrics.port === undefined ? undefined : await listenOrExplain(() => serveMetrics(config.metrics, clusterScrape()), config.metrics, 'METRICS_PORT');
      runPrimary({ workers: config.webConcurrency, logger, stopWithinMs, onStopped: () => metricsServer?.close() });
    }
  } else {
    await serve(config, logger, await openDatabase(config));
  }
} catch (error) {
  if (!(error instanceof StartupError)) throw error;
  logger.fatal(error.message);
  process.exit(1);
}
