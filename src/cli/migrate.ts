import { loadConfigOrExit } from '../config.js';
import { migrateToLatest } from '../db/migrate.js';
import { openDatabase } from '../db/open.js';

const knex = await openDatabase(loadConfigOrExit());
try {
  await migrateToLatest(knex);
  console.log('database schema is up to date');
} finally {
  await knex.destroy();
}
