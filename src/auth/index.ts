import type { Knex } from 'knex';
import type { Config } from '../config.js';
import type { Limits } from '../limits/index.js';
import { createAccounts } from './accounts.js';
import { createAuthenticator } from './authenticate.js';
import { createSessionList } from './session-list.js';
import { createSessions } from './sessions.js';
import { createTokens } from './tokens.js';

/** The auth use cases, wired once per app. */
export function createAuth(config: Config, knex: Knex, limits: Limits) {
  const tokens = createTokens(config.auth);
  const sessions = createSessions({ knex, tokens, settings: config.auth });
  const accounts = createAccounts({ knex, sessions, failedLogins: limits.failedLogins, bcryptRounds: config.auth.bcryptRounds });
  return { tokens, sessions, accounts, sessionList: createSessionList(knex), authenticate: createAuthenticator({ knex, tokens }) };
}

export type Auth = ReturnType<typeof createAuth>;
