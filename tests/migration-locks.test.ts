import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationSource } from '../migrations/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

// A deploy migrates while the old release serves. On a table that can be large, a plain CREATE
// INDEX holds off every write for as long as it reads the table; CREATE INDEX CONCURRENTLY does
// not, and needs a migration that runs outside a transaction. This runs every migration in turn
// and checks each index it builds on such a table (one it did not create itself) by the SQL it sends.
const LARGE_TABLES = ['tasks', 'sessions', 'refresh_tokens', 'idempotency_keys', 'users'];

describe('migrations', () => {
  let db: TestDatabase;
  const sent: { migration: string; transaction: boolean; sql: string }[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    let current = { migration: '', transaction: true };
    db.knex.on('query', ({ sql }: { sql: string }) => sent.push({ ...current, sql }));
    for (const entry of await migrationSource.getMigrations([])) {
      const migration = await migrationSource.getMigration(entry);
      current = { migration: migrationSource.getMigrationName(entry), transaction: (migration as { config?: { transaction?: boolean } }).config?.transaction !== false };
      await db.knex.migrate.up({ migrationSource, name: current.migration });
    }
  }, 120_000);
  afterAll(() => db?.destroy());

  it('build every index on a table that can be large CONCURRENTLY, outside a transaction, unless they created that table', () => {
    const checked: string[] = [];
    for (const migration of new Set(sent.map((s) => s.migration))) {
      const statements = sent.filter((s) => s.migration === migration);
      const created = new Set(statements.flatMap(({ sql }) => [.../create table (?:if not exists )?"?(\w+)"?/gi.exec(sql)?.slice(1) ?? []]));
      for (const { sql, transaction } of statements) {
        const index = /^create (?:unique )?index (concurrently )?.*? on "?(\w+)"?/i.exec(sql.trim());
        if (!index || !LARGE_TABLES.includes(index[2]!) || created.has(index[2]!)) continue;
        checked.push(`${migration}: ${sql}`);
        expect(index[1], `${migration}: ${sql}`).toBe('concurrently ');
        expect(transaction, `${migration} runs in a transaction`).toBe(false);
      }
    }
    // The listing indexes of 1.1 at least; the check must have something to check.
    expect(checked.some((s) => s.includes('tasks_owner_id_title_id_index'))).toBe(true);
  });
});
