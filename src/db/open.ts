import { join } from 'node:path';
import { StartupError, type Config } from '../config.js';
import { createDatabase, ownerOnlyDirectory } from './knex.js';

const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST']);

/** DATA_DIR made (or narrowed to) owner-only, or a StartupError that says what to fix. */
async function dataDirectory(dir: string) {
  try {
    await ownerOnlyDirectory(dir);
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (!UNWRITABLE.has(code ?? '')) throw error;
    const user = process.getuid ? ` (uid ${process.getuid()})` : '';
    throw new StartupError(
      `DATA_DIR ${dir} cannot be created or made private by this user${user}: ${code}. ` +
        'Give this user its own writable directory there (in a container: a volume owned by the image\'s user), or set DATABASE_URL.',
    );
  }
}

/**
 * The configured database: PostgreSQL at DATABASE_URL, else the embedded one under DATA_DIR.
 * For migrations without DATABASE_STATEMENT_TIMEOUT_MS, which is for requests, not for DDL.
 */
export async function openDatabase(config: Config, purpose: 'serve' | 'migrate' = 'serve') {
  const pgdata = join(config.dataDir, 'pgdata');
  // DATA_DIR also holds the development secret.
  if (!config.db.url) {
    await dataDirectory(config.dataDir);
    await dataDirectory(pgdata);
  }
  return createDatabase({
    databaseUrl: config.db.url,
    dataDir: pgdata,
    poolMax: config.db.poolMax,
    statementTimeoutMs: purpose === 'serve' ? config.db.statementTimeoutMs : 0,
    preparedStatements: config.db.preparedStatements,
  });
}
