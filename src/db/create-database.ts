import pg from 'pg';

const DUPLICATE_DATABASE = '42P04';

export function databaseNameOf(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  if (!name) throw new Error('the database URL names no database');
  return name;
}

/** The same server and credentials, connected to another database. */
export function withDatabase(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

export async function ensureDatabaseExists(databaseUrl: string): Promise<'created' | 'exists'> {
  const name = databaseNameOf(databaseUrl);
  const client = new pg.Client({ connectionString: withDatabase(databaseUrl, 'postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount) return 'exists';
    await client.query(`create database ${pg.escapeIdentifier(name)}`);
    return 'created';
  } catch (err) {
    // Someone else created it between our check and our create.
    if ((err as { code?: string }).code === DUPLICATE_DATABASE) return 'exists';
    throw err;
  } finally {
    await client.end();
  }
}
