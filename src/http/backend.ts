import { Ajv } from 'ajv';
import { OpenAPIBackend, ValidationContext, type Context } from 'openapi-backend';
import type { OpenAPIV3 } from 'openapi-types';
import { loadSpec } from '../spec.js';
import { checkMediaType, checkRoles } from './access.js';
import { withFormats } from './ajv.js';
import type { Caller, HandlerRequest, OperationHandlers, OperationId } from './operations.js';
import { AppError, problems } from './problem.js';
import type { Reply } from './reply.js';
import { toProblemErrors } from './validation-errors.js';
import { unstorableStrings } from './body.js';

/** What the express glue knows of a request and hands to openapi-backend with it. */
export interface Call {
  hasBody: boolean;
  operationId?: string;
}

export interface BackendDeps {
  handlers: OperationHandlers;
  /** Verifies a bearer token and finds the caller, or throws an AppError (401). */
  authenticate(token: string): Promise<Caller>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

function bearerToken(c: Context): string {
  const header = c.request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer +(\S+)\s*$/i.exec(header) : null;
  if (!match) throw problems.unauthorized('An access token is required: send Authorization: Bearer <token>.');
  return match[1]!;
}

export async function createBackend(deps: BackendDeps): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({
    definition: loadSpec(),
    strict: true,
    coerceTypes: true,
    ajvOpts: { allErrors: true, verbose: true, useDefaults: true },
    // Query defaults (limit, offset, sort) are filled in, but a body stays exactly as it was sent:
    // a retried create is compared with the first as the client sent both (a field left out is not
    // that field sent with its default), and what a body leaves out takes the table's defaults.
    customizeAjv: (ajv, ajvOpts, context) =>
      withFormats(context === ValidationContext.RequestBody ? new Ajv({ ...ajvOpts, useDefaults: false }) : ajv),
    securityHandlers: {
      bearerAuth: (c: Context) => deps.authenticate(bearerToken(c)),
    },
    handlers: {
      postRoutingHandler: (c: Context, call: Call) => {
        call.operationId = c.operation?.operationId;
      },
      postSecurityHandler: (c: Context, call: Call) => {
        // A secured operation that failed its check goes on to unauthorizedHandler instead.
        if ((c.operation.security ?? []).length > 0 && !c.security.authorized) return;
        if (c.security.bearerAuth) checkRoles(c, c.security.bearerAuth as Caller);
        checkMediaType(c, call.hasBody);
      },
      unauthorizedHandler: (c: Context) => {
        // A failure that is not an AppError (the database is down, say) must not pass for a 401.
        throw (c.security.bearerAuth as { error?: unknown } | undefined)?.error ?? problems.unauthorized();
      },
      validationFail: (c: Context) => {
        const headers = ((c.operation.parameters ?? []) as OpenAPIV3.ParameterObject[]).filter((p) => p.in === 'header');
        const headerNames = Object.fromEntries(headers.map((p) => [p.name.toLowerCase(), p.name]));
        throw problems.validation(toProblemErrors(c.validation.errors ?? [], headerNames));
      },
      notFound: (c: Context) => {
        throw problems.notFound(`There is no ${c.request.path} here.`);
      },
      methodNotAllowed: (c: Context) => {
        const allowed = METHODS.filter((method) => api.matchOperation({ ...c.request, method, headers: {} }));
        const allow = allowed.map((m) => m.toUpperCase()).join(', ');
        throw new AppError(405, 'method-not-allowed', `${c.request.path} allows ${allow}.`, { headers: { Allow: allow } });
      },
      notImplemented: (c: Context) => {
        throw new AppError(501, 'not-implemented', `${c.operation.operationId} is not implemented yet.`);
      },
    },
  });
  await api.init();
  for (const [operationId, handler] of Object.entries(deps.handlers)) {
    api.register(operationId, (c: Context): Promise<Reply> => {
      // After validation, so the body is known to be the spec's shape (and shallow).
      const unstorable = unstorableStrings(c.request.requestBody);
      if (unstorable.length > 0) throw problems.validation(unstorable);
      const request: HandlerRequest<OperationId> = {
        body: c.request.requestBody,
        query: c.request.query,
        params: c.request.params,
        headers: c.request.headers as HandlerRequest<OperationId>['headers'],
        caller: c.security?.bearerAuth as Caller | undefined,
      };
      return (handler as (r: typeof request) => Promise<Reply>)(request);
    });
  }
  return api;
}
