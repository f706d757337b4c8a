import { join } from 'node:path';
import type { Config } from '../config.js';
import { createDatabase, ownerOnlyDirectory } from './knex.js';

/** The configured database: PostgreSQL at DATABASE_URL, else the embedded one under DATA_DIR. */
export async function openDatabase(config: Config) {
  // DATA_DIR also holds the development secret.
  if (!config.db.url) await ownerOnlyDirectory(config.dataDir);
  return createDatabase({ databaseUrl: config.db.url, dataDir: join(config.dataDir, 'pgdata') });
}
