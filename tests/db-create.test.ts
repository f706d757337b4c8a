import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../src/db/create-database.js';

const run = promisify(execFile);
const serverUrl = process.env.TEST_DATABASE_URL;
const name = `tm_create_${randomBytes(5).toString('hex')}`;

// Needs a PostgreSQL server to create databases on.
describe.skipIf(!serverUrl)('make db-create (PostgreSQL only)', () => {
  const databaseUrl = serverUrl ? withDatabase(serverUrl, name) : '';
  const dbCreate = () => run('node_modules/.bin/tsx', ['src/cli/db-create.ts'], { env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl } });

  afterAll(async () => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    await client.query(`drop database if exists ${pg.escapeIdentifier(name)}`);
    await client.end();
  });

  it('creates the database named in DATABASE_URL when it is missing', async () => {
    expect((await dbCreate()).stdout).toBe(`created database "${name}"\n`);
  });

  it('leaves an existing database alone', async () => {
    expect((await dbCreate()).stdout).toBe(`database "${name}" already exists\n`);
  });
});

describe('db-create without DATABASE_URL', () => {
  it('says the embedded database needs no creating', async () => {
    const { stdout } = await run('node_modules/.bin/tsx', ['src/cli/db-create.ts'], { env: { PATH: process.env.PATH } });
    expect(stdout).toMatch(/embedded database/);
  });
});
