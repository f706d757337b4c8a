import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/open.js';

// Password hashes and the development secret live in DATA_DIR: no other local user may read them.
// This is about the embedded database's files, so the PostgreSQL and proxy runs skip it.
const parent = mkdtempSync(join(tmpdir(), 'tm-embedded-'));
const dataDir = join(parent, 'data');
afterAll(() => rmSync(parent, { recursive: true, force: true }));

const modeOf = (path: string) => statSync(path).mode & 0o777;

async function open() {
  const knex = await openDatabase(loadConfig({ NODE_ENV: 'test' }, { dataDir }));
  await knex.destroy();
}

describe('the embedded database directory', () => {
  it('is created readable by its owner only, even under umask 0', async () => {
    const umask = process.umask(0);
    try {
      await open();
    } finally {
      process.umask(umask);
    }
    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(join(dataDir, 'pgdata'))).toBe(0o700);
  });

  it('is made readable by its owner only when it already exists with wider modes', async () => {
    chmodSync(dataDir, 0o777);
    chmodSync(join(dataDir, 'pgdata'), 0o755);
    await open();
    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(join(dataDir, 'pgdata'))).toBe(0o700);
  });
});
