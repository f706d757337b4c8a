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
  const outcome = await ensureAdmin(knex, config.admin, config.auth.bcryptRounds);
  const messages = {
    created: `created admin ${config.admin.email}`,
    exists: `${config.admin.email} is already an admin; left unchanged`,
    'exists-without-admin-role': `${config.admin.email} belongs to an account without the admin role; left unchanged`,
  };
  console.log(messages[outcome]);
  if (outcome === 'exists-without-admin-role') process.exitCode = 1;
} finally {
  await knex.destroy();
}
