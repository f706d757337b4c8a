import { join } from 'node:path';
import type { Config } from '../config.js';
import { createDatabase, ownerOnlyDirectory } from './knex.js';

/**
 * The configured database: PostgreSQL at DATABASE_URL, else the embedded one under DATA_DIR.
 * For migrations without DATABASE_STATEMENT_TIMEOUT_MS, which is for requests, not for DDL.
 */
export async function openDatabase(config: Config, purpose: 'serve' | 'migrate' = 'serve') {
  // DATA_DIR also holds the development secret.
  if (!config.db.url) await ownerOnlyDirectory(config.dataDir);
  return createDatabase({
    databaseUrl: config.db.url,
    dataDir: join(config.dataDir, 'pgdata'),
    poolMax: config.db.poolMax,
    statementTimeoutMs: purpose === 'serve' ? config.db.statementTimeoutMs : 0,
  });
}
