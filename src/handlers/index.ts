import type { Knex } from 'knex';
import type { Auth } from '../auth/index.js';
import type { Config } from '../config.js';
import type { OperationHandlers } from '../http/operations.js';
import { createCursors } from '../paging/cursor.js';
import type { Sync } from '../sync/index.js';
import { authHandlers } from './auth.js';
import { labelHandlers } from './labels.js';
import { operationsHandlers } from './operations.js';
import { recoveryHandlers } from './recovery.js';
import { syncHandlers } from './sync.js';
import { taskHandlers } from './tasks.js';
import { userHandlers } from './users.js';

export interface HandlerDeps {
  config: Config;
  knex: Knex;
  auth: Auth;
  isStopping?: () => boolean;
  sync: Sync;
}

export function createHandlers(deps: HandlerDeps): OperationHandlers {
  const cursors = createCursors(deps.config.auth.secretKey);
  return {
    ...operationsHandlers(deps),
    ...authHandlers(deps.auth),
    ...recoveryHandlers(deps.auth),
    ...taskHandlers({ ...deps, cursors }),
    ...labelHandlers(deps),
    ...userHandlers({ ...deps, cursors }),
    ...syncHandlers(deps),
  };
}
