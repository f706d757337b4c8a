import type { Knex } from 'knex';
import type { Config } from '../config.js';
import { createAccounts } from './accounts.js';
import { createAuthenticator } from './authenticate.js';
import { createRateLimits } from './rate-limits.js';
import { createSessions } from './sessions.js';
import { createTokens } from './tokens.js';

/** The auth use cases, wired once per app. */
export function createAuth(config: Config, knex: Knex) {
  const tokens = createTokens(config.auth);
  const limits = createRateLimits(knex);
  const sessions = createSessions({ knex, tokens, settings: config.auth });
  const accounts = createAccounts({ knex, sessions, limits, settings: config.auth });
  return { tokens, limits, sessions, accounts, authenticate: createAuthenticator({ knex, tokens }) };
}

export type Auth = ReturnType<typeof createAuth>;
