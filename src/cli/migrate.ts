import { loadConfigOrExit } from '../config.js';
import { migrateToLatest } from '../db/migrate.js';
import { openDatabase } from '../db/open.js';

const knex = await openDatabase(loadConfigOrExit());
try {
  const applied = await migrateToLatest(knex);
  const done = applied.length === 0 ? ['database schema is up to date: no migration to apply'] : [`applied ${applied.length} migration(s):`, ...applied.map((name) => `  ${name}`)];
  console.log(done.join('\n'));
} finally {
  await knex.destroy();
}
