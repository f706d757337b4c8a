import type { Accounts } from '../auth/accounts.js';
import type { Sessions } from '../auth/sessions.js';
import { authed, type OperationHandlers } from '../http/operations.js';
import { problems } from '../http/problem.js';
import { json, noContent } from '../http/reply.js';
import { presentUser } from '../users/present.js';

// Token responses must not be kept by any cache (RFC 6749 §5.1).
const tokenPair = (pair: unknown) => json(200, pair, { 'Cache-Control': 'no-store' });

export function authHandlers(deps: { accounts: Accounts; sessions: Sessions }): OperationHandlers {
  const { accounts, sessions } = deps;
  return {
    register: async ({ body }) => json(201, presentUser(await accounts.register(body.email, body.password))),
    login: async ({ body }) => tokenPair(await accounts.login(body.email, body.password)),
    refreshTokens: async ({ body }) => tokenPair(await sessions.rotate(body.refresh_token)),
    logout: async ({ body }) => {
      await sessions.end(body.refresh_token);
      return noContent();
    },
    logoutAll: authed(async (_req, caller) => {
      await sessions.endAll(caller.userId);
      return noContent();
    }),
    getCurrentUser: authed(async (_req, caller) => {
      const user = await accounts.findUser(caller.userId);
      if (!user) throw problems.unauthorized();
      return json(200, presentUser(user));
    }),
    changePassword: authed(async ({ body }, caller) => {
      await accounts.changePassword(caller, body.current_password, body.new_password);
      return noContent();
    }),
  };
}
