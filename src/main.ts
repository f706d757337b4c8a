import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { pruneExpired } from './auth/pruning.js';
import { loadConfigOrExit, type Config } from './config.js';
import { migrateToLatest, pendingMigrations } from './db/migrate.js';
import { listen, stop } from './http/server.js';
import { createLogger } from './logging.js';
import { openDatabase } from './db/open.js';
import { clusterScrape, createMetrics, registryScrape, serveMetrics } from './metrics.js';
import { ensureAdmin } from './users/admin.js';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
// Shorter than the usual 30 s a container gets between SIGTERM and SIGKILL.
const SHUTDOWN_GRACE_MS = 20_000;

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
  const metrics = config.metrics.port === undefined ? undefined : createMetrics(knex);
  const { app, close, endStreams } = await timed('app', () => createApp({ config, knex, logger, metrics }));
  const server = await listen(app, config.http);
  // In a cluster the primary serves the workers' metrics, aggregated.
  const metricsServer = metrics && cluster.isPrimary ? await serveMetrics(config.metrics.port!, registryScrape(metrics.registry)) : undefined;
  const { port } = server.address() as AddressInfo;
  const database = config.db.url ? 'postgresql' : 'embedded';
  logger.info({ port, metricsPort: config.metrics.port, database, startup_ms: Math.round(performance.now()) }, `listening on http://localhost:${port}`);
  logger.debug({ phases_ms: phases }, 'start-up phases');

  const prune = () => pruneExpired(knex, { syncRetentionSeconds: config.sync.retentionSeconds }).catch((err) => logger.warn({ err }, 'pruning expired tokens failed'));
  void prune();
  const pruning = setInterval(prune, PRUNE_EVERY_MS).unref();

  const shutDown = async (signal: string) => {
    clearInterval(pruning);
    logger.info({ signal }, 'shutting down');
    metricsServer?.close();
    endStreams();
    await stop(server, SHUTDOWN_GRACE_MS);
    await close();
    await knex.destroy();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutDown('SIGTERM'));
  process.once('SIGINT', () => void shutDown('SIGINT'));
}

const config = loadConfigOrExit();
const logger = await createLogger(config);

if (cluster.isPrimary) {
  // Migrate and seed once, before any worker starts: knex's migration lock would fail the others.
  const knex = await prepareDatabase(config, logger);
  if (config.webConcurrency === 1) {
    await serve(config, logger, knex);
  } else {
    await knex.destroy();
    const metricsServer = config.metrics.port === undefined ? undefined : await serveMetrics(config.metrics.port, clusterScrape());
    let stopping = false;
    for (let i = 0; i < config.webConcurrency; i++) cluster.fork();
    cluster.on('exit', (worker, code) => {
      if (stopping) return;
      logger.error({ pid: worker.process.pid, code }, 'worker exited; starting another');
      cluster.fork();
    });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        stopping = true;
        metricsServer?.close();
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
      });
    }
  }
} else {
  await serve(config, logger, await openDatabase(config));
}
