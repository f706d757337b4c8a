#!/usr/bin/env node
import { loadConfigOrExit } from '../config.js';
import { migrateToLatest, rollbackOne } from '../db/migrate.js';
import { openDatabase } from '../db/open.js';

// `migrate` brings the schema up to date; `migrate rollback` undoes the most recent migration.
const command = process.argv[2] ?? 'latest';
if (command !== 'latest' && command !== 'rollback') {
  console.error(`usage: migrate [latest|rollback] (got ${JSON.stringify(command)})`);
  process.exit(2);
}

const knex = await openDatabase(loadConfigOrExit(), 'migrate');
try {
  if (command === 'latest') {
    const applied = await migrateToLatest(knex);
    const done = applied.length === 0 ? ['database schema is up to date: no migration to apply'] : [`applied ${applied.length} migration(s):`, ...applied.map((name) => `  ${name}`)];
    console.log(done.join('\n'));
  } else {
    const undone = await rollbackOne(knex);
    console.log(undone === undefined ? 'no migration to roll back' : `rolled back ${undone}`);
  }
} finally {
  await knex.destroy();
}
