import type { Knex } from 'knex';
import { UniqueViolationError } from 'objection';
import { User } from '../db/models/User.js';
import type { Caller } from '../http/operations.js';
import { problems } from '../http/problem.js';
import { createPasswordChecker, hashPassword, MAX_PASSWORD_BYTES, passwordTooLong } from './passwords.js';
import type { RateLimits } from './rate-limits.js';
import type { Sessions } from './sessions.js';

export interface AccountSettings {
  bcryptRounds: number;
  loginMaxFailures: number;
  loginWindowSeconds: number;
}

// One body for an unknown email and a wrong password: nothing tells them apart.
const invalidCredentials = () => problems.unauthorized('The email or password is wrong.', 'invalid-credentials');

const tooLong = (pointer: string) =>
  problems.validation([{ pointer, message: `must be at most ${MAX_PASSWORD_BYTES} bytes of UTF-8` }]);

export function createAccounts(deps: { knex: Knex; sessions: Sessions; limits: RateLimits; settings: AccountSettings }) {
  const { knex, sessions, limits, settings } = deps;
  const checkPassword = createPasswordChecker(settings.bcryptRounds);

  // Over-long passwords still cost one bcrypt comparison, so they take as long as any other.
  const passwordMatches = async (password: string, hash: string | undefined) =>
    (await checkPassword(password, hash)) && !passwordTooLong(password);

  /**
   * Counts a password attempt for an email before the password is checked: one atomic increment,
   * so concurrent guesses cannot all slip in under the limit. Success clears the count.
   */
  async function countAttempt(email: string) {
    const key = `login:${email.toLowerCase()}`;
    const window = await limits.hit(key, settings.loginWindowSeconds);
    if (window.hits > settings.loginMaxFailures) {
      throw problems.tooManyRequests(window.resetsIn, 'Too many failed password attempts for this email; try again later.');
    }
    return { succeeded: () => limits.clear(key) };
  }

  return {
    async register(email: string, password: string): Promise<User> {
      if (passwordTooLong(password)) throw tooLong('/body/password');
      const passwordHash = await hashPassword(password, settings.bcryptRounds);
      try {
        return await User.query(knex).insert({ email: email.toLowerCase(), password_hash: passwordHash }).returning('*');
      } catch (error) {
        if (error instanceof UniqueViolationError) throw problems.conflict('A user with this email already exists.');
        throw error;
      }
    },

    async login(email: string, password: string) {
      const attempt = await countAttempt(email);
      const user = await User.query(knex).findOne({ email: email.toLowerCase() });
      if (!(await passwordMatches(password, user?.password_hash))) throw invalidCredentials();
      await attempt.succeeded();
      if (!user!.is_active) throw problems.forbidden('This account is deactivated.');
      return sessions.start(user!);
    },

    async changePassword(caller: Caller, currentPassword: string, newPassword: string) {
      const user = await User.query(knex).findById(caller.userId);
      if (!user) throw problems.unauthorized();
      // Guessing the current password with a stolen access token counts against the same limit as logins.
      const attempt = await countAttempt(user.email);
      if (!(await passwordMatches(currentPassword, user.password_hash))) {
        throw problems.unauthorized('The current password is wrong.', 'invalid-credentials');
      }
      await attempt.succeeded();
      if (passwordTooLong(newPassword)) throw tooLong('/body/new_password');
      const passwordHash = await hashPassword(newPassword, settings.bcryptRounds);
      await knex.transaction(async (trx) => {
        await User.query(trx).findById(caller.userId).patch({ password_hash: passwordHash, updated_at: new Date() });
        await sessions.endAllBut(caller.userId, caller.sessionId, trx);
      });
    },

    findUser: (id: string) => User.query(knex).findById(id),
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
