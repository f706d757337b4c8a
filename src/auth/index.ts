import type { Knex } from 'knex';
import type { Config } from '../config.js';
import type { Mail } from '../mail/index.js';
import { createCursors } from '../paging/cursor.js';
import { createAccounts } from './accounts.js';
import { createAuthenticator } from './authenticate.js';
import { createLoginFailures } from './login-failures.js';
import { createPasswords } from './passwords.js';
import { createRecovery } from './recovery.js';
import { createSessionList } from './session-list.js';
import { createSessions } from './sessions.js';
import { createTokens } from './tokens.js';

/** The auth use cases, wired once per app. */
export function createAuth(config: Config, knex: Knex, mail: Mail) {
  const tokens = createTokens(config.auth);
  const sessions = createSessions({ knex, tokens, settings: config.auth });
  // One password-check queue for every bcrypt of a request.
  const passwords = createPasswords(config.auth.bcryptRounds);
  const recovery = createRecovery({ knex, sessions, passwords, mail, settings: config.mail });
  const accounts = createAccounts({
    knex,
    sessions,
    loginFailures: createLoginFailures(knex, {
      perAddress: config.limits.loginMaxFailures,
      perAccount: config.limits.loginAccountMaxFailures,
      windowSeconds: config.limits.loginWindowSeconds,
    }),
    passwords,
    queueVerification: recovery.queueVerification,
    requireVerifiedEmail: config.mail.requireVerifiedEmail,
  });
  return { tokens, sessions, accounts, recovery, sessionList: createSessionList(knex, createCursors(config.auth.secretKey)), authenticate: createAuthenticator({ knex, tokens }) };
}

export type Auth = ReturnType<typeof createAuth>;
