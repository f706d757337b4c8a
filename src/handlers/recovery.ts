import type { Recovery } from '../auth/recovery.js';
import { authed, type OperationHandlers, type ResponseBody } from '../http/operations.js';
import { json, noContent } from '../http/reply.js';
import { clientOf } from './auth.js';

// The same body whether or not an account has the address: it must not tell.
const RESET_ACCEPTED: ResponseBody<'requestPasswordReset', 202> = {
  detail: 'If an active account has this e-mail address, a link to reset its password is on its way.',
};
const RESEND_ACCEPTED: ResponseBody<'resendVerificationEmail', 202> = {
  detail: 'A new verification link is on its way to your e-mail address.',
};

export function recoveryHandlers(deps: { recovery: Recovery }): OperationHandlers {
  const { recovery } = deps;
  return {
    requestPasswordReset: async ({ body }) => {
      await recovery.requestPasswordReset(body.email);
      return json(202, RESET_ACCEPTED);
    },
    confirmPasswordReset: async (req) => {
      await recovery.confirmPasswordReset(clientOf(req), req.body.token, req.body.new_password);
      return noContent();
    },
    verifyEmail: async ({ body }) => {
      await recovery.verifyEmail(body.token);
      return noContent();
    },
    resendVerificationEmail: authed(async (_req, caller) => {
      await recovery.resendVerification(caller.userId);
      return json(202, RESEND_ACCEPTED);
    }),
  };
}
