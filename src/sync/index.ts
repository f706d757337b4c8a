import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createChangeFeed } from './changes.js';
import { createChangeListener } from './listener.js';
import { createEventStreams, type StreamMetrics } from './streams.js';

/** Staying in sync: the change feed and the event streams, wired once per app. */
export function createSync(deps: { config: Config; knex: Knex; logger: Logger; metrics?: StreamMetrics }) {
  const { config, knex, logger } = deps;
  const feed = createChangeFeed({ knex, secretKey: config.auth.secretKey, retentionSeconds: config.sync.retentionSeconds });
  const listener = createChangeListener({ knex, listenUrl: config.db.listenUrl ?? config.db.url, logger });
  const streams = createEventStreams({ knex, feed, listener, logger, metrics: deps.metrics });
  return { feed, streams };
}

export type Sync = ReturnType<typeof createSync>;
