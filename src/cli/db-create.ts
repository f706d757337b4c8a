import { loadConfigOrExit } from '../config.js';
import { databaseNameOf, ensureDatabaseExists } from '../db/create-database.js';

function describe(err: unknown): string {
  // A refused connection to a host with several addresses is an AggregateError with no message.
  if (err instanceof AggregateError) return err.errors.map(describe).join('; ');
  if (err instanceof Error) return err.message || (err as { code?: string }).code || err.name;
  return String(err);
}

const databaseUrl = loadConfigOrExit().db.url;
if (!databaseUrl) {
  console.log('DATABASE_URL is not set: the embedded database in DATA_DIR needs no creating.');
  process.exit(0);
}

try {
  const name = databaseNameOf(databaseUrl);
  const result = await ensureDatabaseExists(databaseUrl);
  console.log(result === 'created' ? `created database "${name}"` : `database "${name}" already exists`);
} catch (err) {
  console.error(`db-create: could not create the database: ${describe(err)}`);
  process.exit(1);
}
