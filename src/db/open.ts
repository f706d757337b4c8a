import { join } from 'node:path';
import type { Config } from '../config.js';
import { createDatabase } from './knex.js';

/** The configured database: PostgreSQL at DATABASE_URL, else the embedded one under DATA_DIR. */
export const openDatabase = (config: Config) =>
  createDatabase({ databaseUrl: config.db.url, dataDir: join(config.dataDir, 'pgdata') });
