import { loadConfigOrExit } from '../config.js';
import { migrateToLatest } from '../db/migrate.js';
import { openDatabase } from '../db/open.js';
import { ensureAdmin } from '../users/admin.js';

const config = loadConfigOrExit();
if (!config.admin) {
  console.error('usage: make admin EMAIL=admin@example.com PASSWORD=…');
  process.exit(2);
}
const knex = await openDatabase(config);
try {
  await migrateToLatest(knex);
  const created = await ensureAdmin(knex, config.admin, config.auth.bcryptRounds);
  console.log(created ? `created admin ${config.admin.email}` : `${config.admin.email} already exists; left unchanged`);
} finally {
  await knex.destroy();
}
