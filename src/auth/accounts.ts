import type { Knex } from 'knex';
import { UniqueViolationError } from 'objection';
import { User } from '../db/models/User.js';
import type { Caller } from '../http/operations.js';
import { AppError, problems } from '../http/problem.js';
import type { LoginFailures } from './login-failures.js';
import { MAX_PASSWORD_BYTES, passwordTooLong, type PasswordClient, type Passwords } from './passwords.js';
import type { Recovery } from './recovery.js';
import type { Sessions } from './sessions.js';

/** Where a request comes from, as the auth use cases need it. */
export interface Client extends PasswordClient {
  userAgent: string | undefined;
}

// What a session keeps of the User-Agent.
const USER_AGENT_CHARACTERS = 512;

// One body for an unknown email and a wrong password: nothing tells them apart.
const invalidCredentials = () => problems.unauthorized('The email or password is wrong.', 'invalid-credentials');
const wrongCurrentPassword = () => problems.unauthorized('The current password is wrong.', 'invalid-credentials');
const deactivated = () => problems.forbidden('This account is deactivated.');
const emailNotVerified = () =>
  new AppError(403, 'email-not-verified', 'Verify your e-mail address first with the link in the mail sent to it, or reset your password.');

const tooLong = (pointer: string) =>
  problems.validation([{ pointer, message: `must be at most ${MAX_PASSWORD_BYTES} bytes of UTF-8` }]);

export function createAccounts(deps: {
  knex: Knex;
  sessions: Sessions;
  loginFailures: LoginFailures;
  passwords: Passwords;
  queueVerification: Recovery['queueVerification'];
  /** REQUIRE_VERIFIED_EMAIL: a login needs a verified address. */
  requireVerifiedEmail: boolean;
}) {
  const { knex, sessions, loginFailures, passwords } = deps;

  /**
   * Whether `password` is the account's, counted against the failed-login limits of `email` (see
   * LoginFailures). Over-long passwords still cost one bcrypt comparison, so they take as long as
   * any other.
   */
  const passwordMatches = (client: Client, email: string, password: string, hash: string | undefined) =>
    loginFailures.check(email, client, async () => (await passwords.matches(client, password, hash)) && !passwordTooLong(password));

  return {
    async register(client: Client, email: string, password: string): Promise<User> {
      if (passwordTooLong(password)) throw tooLong('/body/password');
      const passwordHash = await passwords.hash(client, password);
      try {
        // The verification mail is queued with the account, or neither is made.
        return await knex.transaction(async (trx) => {
          const user = await User.query(trx).insert({ email: email.toLowerCase(), password_hash: passwordHash }).returning('*');
          await deps.queueVerification(trx, user.id);
          return user;
        });
      } catch (error) {
        if (error instanceof UniqueViolationError) throw problems.conflict('A user with this email already exists.');
        throw error;
      }
    },

    async login(client: Client, email: string, password: string) {
      const user = await User.query(knex).findOne({ email: email.toLowerCase() });
      if (!(await passwordMatches(client, email, password, user?.password_hash))) throw invalidCredentials();
      if (!user!.is_active) throw deactivated();
      if (deps.requireVerifiedEmail && !user!.email_verified) throw emailNotVerified();
      const userAgent = client.userAgent === undefined ? null : [...client.userAgent].slice(0, USER_AGENT_CHARACTERS).join('');
      const pair = await sessions.start(user!, userAgent);
      if (pair) return pair;
      // The account changed while its password was checked: answer as the account is now.
      const now = await User.query(knex).findById(user!.id);
      throw now?.password_hash === user!.password_hash && !now.is_active ? deactivated() : invalidCredentials();
    },

    async changePassword(client: Client, caller: Caller, currentPassword: string, newPassword: string) {
      const user = await User.query(knex).findById(caller.userId);
      if (!user) throw problems.unauthorized();
      // Guessing the current password with a stolen access token counts against the same limit as logins.
      if (!(await passwordMatches(client, user.email, currentPassword, user.password_hash))) throw wrongCurrentPassword();
      if (passwordTooLong(newPassword)) throw tooLong('/body/new_password');
      const passwordHash = await passwords.hash(client, newPassword);
      await knex.transaction(async (trx) => {
        // Only over the hash that was checked: of two changes racing with one current password, one wins.
        const changed = await User.query(trx)
          .findById(caller.userId)
          .where('password_hash', user.password_hash)
          .patch({ password_hash: passwordHash, updated_at: new Date() });
        if (changed === 0) throw wrongCurrentPassword();
        await sessions.endAllBut(caller.userId, caller.sessionId, trx);
      });
    },

    findUser: (id: string) => User.query(knex).findById(id),
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
