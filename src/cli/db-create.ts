import { databaseNameOf, ensureDatabaseExists } from '../db/create-database.js';

function describe(err: unknown): string {
  // A refused connection to a host with several addresses is an AggregateError with no message.
  if (err instanceof AggregateError) return err.errors.map(describe).join('; ');
  if (err instanceof Error) return err.message || (err as { code?: string }).code || err.name;
  return String(err);
}

const databaseUrl = process.argv[2];
if (!databaseUrl) {
  console.error('usage: db-create <postgres://user@host:port/database>');
  process.exit(2);
}

try {
  const name = databaseNameOf(databaseUrl);
  const result = await ensureDatabaseExists(databaseUrl);
  console.log(result === 'created' ? `created database "${name}"` : `database "${name}" already exists`);
} catch (err) {
  console.error(`db-create: could not create the database: ${describe(err)}`);
  process.exit(1);
}
