import type { Knex } from 'knex';
import * as createUsers from './20261124000100_create_users.js';
import * as createSessions from './20261124000200_create_sessions.js';
import * as createRefreshTokens from './20261124000300_create_refresh_tokens.js';
import * as createTasks from './20261124000400_create_tasks.js';
import * as createRateLimits from './20261124000500_create_rate_limits.js';
import * as addSessionActivity from './20261201001100_add_session_activity.js';
import * as createRateLimiter from './20261201001200_create_rate_limiter.js';
import * as createIdempotencyKeys from './20261201002001_create_idempotency_keys.js';
import * as createListingIndexes from './20261201002002_create_listing_indexes.js';
import * as addTaskPlanning from './20261204000100_add_task_planning.js';
import * as createTaskChanges from './20261204000200_create_task_changes.js';
import * as addAccountMail from './20261204000300_add_account_mail.js';
import * as scopeTitleSearchToOwner from './20261204000410_scope_title_search_to_owner.js';
import * as boundLoginsAndSessions from './20261204000420_bound_logins_and_sessions.js';
import * as boundIdempotencyKeys from './20261204000430_bound_idempotency_keys.js';
import * as unloggedRateLimiter from './20261204000440_unlogged_rate_limiter.js';
import * as unloggedLoginFailures from './20261204000450_unlogged_login_failures.js';

interface NamedMigration {
  name: string;
  migration: Knex.Migration;
}

// Listed by static import rather than directory scanning so the same list works from .ts sources
// (vitest, tsx) and compiled dist/. Names are what knex_migrations records: never rename one.
const migrations: NamedMigration[] = [
  { name: '20261124000100_create_users', migration: createUsers },
  { name: '20261124000200_create_sessions', migration: createSessions },
  { name: '20261124000300_create_refresh_tokens', migration: createRefreshTokens },
  { name: '20261124000400_create_tasks', migration: createTasks },
  { name: '20261124000500_create_rate_limits', migration: createRateLimits },
  { name: '20261201001100_add_session_activity', migration: addSessionActivity },
  { name: '20261201001200_create_rate_limiter', migration: createRateLimiter },
  { name: '20261201002001_create_idempotency_keys', migration: createIdempotencyKeys },
  { name: '20261201002002_create_listing_indexes', migration: createListingIndexes },
  { name: '20261204000100_add_task_planning', migration: addTaskPlanning },
  { name: '20261204000200_create_task_changes', migration: createTaskChanges },
  { name: '20261204000300_add_account_mail', migration: addAccountMail },
  { name: '20261204000410_scope_title_search_to_owner', migration: scopeTitleSearchToOwner },
  { name: '20261204000420_bound_logins_and_sessions', migration: boundLoginsAndSessions },
  { name: '20261204000430_bound_idempotency_keys', migration: boundIdempotencyKeys },
  { name: '20261204000440_unlogged_rate_limiter', migration: unloggedRateLimiter },
  { name: '20261204000450_unlogged_login_failures', migration: unloggedLoginFailures },
];

export const migrationSource: Knex.MigrationSource<NamedMigration> = {
  getMigrations: async () => migrations,
  getMigrationName: (m) => m.name,
  getMigration: async (m) => m.migration,
};
