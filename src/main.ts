import cluster from 'node:cluster';
import type { Knex } from 'knex';
import { pino } from 'pino';
import { createApp } from './app.js';
import { pruneExpired } from './auth/pruning.js';
import { loadConfigOrExit, type Config } from './config.js';
import { migrateToLatest } from './db/migrate.js';
import { listen, stop } from './http/server.js';
import { openDatabase } from './db/open.js';
import { ensureAdmin } from './users/admin.js';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
// Shorter than the usual 30 s a container gets between SIGTERM and SIGKILL.
const SHUTDOWN_GRACE_MS = 20_000;

async function prepareDatabase(config: Config, logger: pino.Logger) {
  const knex = await openDatabase(config);
  await migrateToLatest(knex);
  if (config.admin) {
    const outcome = await ensureAdmin(knex, config.admin, config.auth.bcryptRounds);
    if (outcome === 'created') logger.info({ email: config.admin.email }, 'created the first admin');
    if (outcome === 'exists-without-admin-role') {
      logger.warn({ email: config.admin.email }, 'ADMIN_EMAIL belongs to an existing account without the admin role; left unchanged');
    }
  }
  return knex;
}

async function serve(config: Config, logger: pino.Logger, knex: Knex) {
  const { app, close } = await createApp({ config, knex, logger });
  const server = await listen(app, config.http.port);
  logger.info({ port: config.http.port, database: config.db.url ? 'postgresql' : 'embedded' }, 'listening');

  const prune = () => pruneExpired(knex).catch((err) => logger.warn({ err }, 'pruning expired tokens failed'));
  void prune();
  const pruning = setInterval(prune, PRUNE_EVERY_MS).unref();

  const shutDown = async (signal: string) => {
    clearInterval(pruning);
    logger.info({ signal }, 'shutting down');
    await stop(server, SHUTDOWN_GRACE_MS);
    await close();
    await knex.destroy();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutDown('SIGTERM'));
  process.once('SIGINT', () => void shutDown('SIGINT'));
}

const config = loadConfigOrExit();
const logger = pino({ level: config.logLevel });

if (cluster.isPrimary) {
  // Migrate and seed once, before any worker starts: knex's migration lock would fail the others.
  const knex = await prepareDatabase(config, logger);
  if (config.webConcurrency === 1) {
    await serve(config, logger, knex);
  } else {
    await knex.destroy();
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
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
      });
    }
  }
} else {
  await serve(config, logger, await openDatabase(config));
}
