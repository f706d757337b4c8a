import type { Accounts, Client } from '../auth/accounts.js';
import type { SessionList } from '../auth/session-list.js';
import type { Sessions } from '../auth/sessions.js';
import { authed, type HandlerRequest, type OperationHandlers, type OperationId } from '../http/operations.js';
import { problems } from '../http/problem.js';
import { json, noContent } from '../http/reply.js';
import { presentUser } from '../users/present.js';

// Token responses must not be kept by any cache (RFC 6749 §5.1).
const tokenPair = (pair: unknown) => json(200, pair, { 'Cache-Control': 'no-store' });

export const clientOf = (req: HandlerRequest<OperationId>): Client => ({ address: req.client(), gone: req.gone, userAgent: req.headers['user-agent'] });

export function authHandlers(deps: { accounts: Accounts; sessions: Sessions; sessionList: SessionList }): OperationHandlers {
  const { accounts, sessions, sessionList } = deps;
  return {
    register: async (req) => json(201, presentUser(await accounts.register(clientOf(req), req.body.email, req.body.password))),
    login: async (req) => tokenPair(await accounts.login(clientOf(req), req.body.email, req.body.password)),
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
    changePassword: authed(async (req, caller) => {
      await accounts.changePassword(clientOf(req), caller, req.body.current_password, req.body.new_password);
      return noContent();
    }),
    // Validation has filled in the spec's default limit.
    listSessions: authed(async ({ query }, caller) => json(200, await sessionList.list(caller, query as { limit: number; cursor?: string }))),
    endSession: authed(async ({ params }, caller) => {
      await sessionList.end(caller, params.id);
      return noContent();
    }),
  };
}
