import { Ajv } from 'ajv';
import { OpenAPIBackend, ValidationContext, type Context } from 'openapi-backend';
import type { OpenAPIV3 } from 'openapi-types';
import { loadSpec } from '../spec.js';
import { checkMediaType, checkRoles } from './access.js';
import { withFormats } from './ajv.js';
import { decimalIntegers } from './integers.js';
import type { Caller, HandlerRequest, OperationHandlers, OperationId } from './operations.js';
import { AppError, problems, type ProblemError } from './problem.js';
import type { Reply } from './reply.js';
import { toProblemErrors } from './validation-errors.js';
import { unstorableStrings } from './body.js';
import { createRateLimitCheck, type SpecLimits } from './rate-limits.js';
import { precompileRouting } from './routing.js';
import type { UserBounds } from './user-bounds.js';

/** What the express glue knows of a request and hands to openapi-backend with it. */
export interface Call {
  hasBody: boolean;
  /** The client address key (see clientAddress), worked out only when asked for. */
  client(): string;
  /** Whether the client has closed its connection. */
  gone(): boolean;
  operationId?: string;
  /** Integer parameters not written in plain decimal, found before ajv coerces them. */
  laxIntegers?: ProblemError[];
  /** The spec's path template of the matched operation, such as /tasks/{id}. */
  route?: string;
  /** The authenticated caller's id, for the request log. */
  userId?: string;
  /** Gives back the caller's place in its fair share (src/http/user-bounds.ts) once the request is answered. */
  release?: () => Promise<void>;
}

export interface BackendDeps {
  handlers: OperationHandlers;
  /**
   * Verifies a bearer token and finds the caller, or throws an AppError (401); `admit` is asked
   * with the token's user id before the database is.
   */
  authenticate(token: string, admit: (userId: string) => Promise<void>): Promise<Caller>;
  /** The limits operations name with `x-rate-limit`. */
  rateLimits: SpecLimits;
  /** Each user's share: requests in flight and reads (src/http/user-bounds.ts). */
  userBounds: UserBounds;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** The token of an `Authorization: Bearer <token>` header, if that is what it is. */
export const bearerOf = (header: unknown): string | undefined =>
  typeof header === 'string' ? /^Bearer +(\S+)\s*$/i.exec(header)?.[1] : undefined;

function bearerToken(c: Context): string {
  const token = bearerOf(c.request.headers.authorization);
  if (!token) throw problems.unauthorized('An access token is required: send Authorization: Bearer <token>.');
  return token;
}

export async function createBackend(deps: BackendDeps): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({
    definition: loadSpec(),
    strict: true,
    // Compiles each operation's request validator on its first request instead of every request
    // and response validator up front, and skips re-checking the definition (make lint does):
    // 3 s less at start-up (bench/startup.ts). Responses are checked by our own validator, in tests.
    quick: true,
    coerceTypes: true,
    ajvOpts: { allErrors: true, verbose: true, useDefaults: true },
    // Query defaults (limit, offset, sort) are filled in, but a body stays exactly as it was sent:
    // a retried create is compared with the first as the client sent both (a field left out is not
    // that field sent with its default), and what a body leaves out takes the table's defaults.
    customizeAjv: (ajv, ajvOpts, context) =>
      withFormats(context === ValidationContext.RequestBody ? new Ajv({ ...ajvOpts, useDefaults: false }) : ajv),
    securityHandlers: {
      // Every authenticated operation counts against its user's share, before the session lookup.
      bearerAuth: (c: Context, call: Call) =>
        deps.authenticate(bearerToken(c), async (userId) => {
          call.release = await deps.userBounds(c.operation, userId);
        }),
    },
    handlers: {
      postSecurityHandler: (c: Context, call: Call) => {
        // A secured operation that failed its check goes on to unauthorizedHandler instead.
        if ((c.operation.security ?? []).length > 0 && !c.security.authorized) return;
        if (c.security.bearerAuth) {
          call.userId = (c.security.bearerAuth as Caller).userId;
          checkRoles(c, c.security.bearerAuth as Caller);
        }
        checkMediaType(c, call.hasBody);
      },
      unauthorizedHandler: (c: Context) => {
        // A failure that is not an AppError (the database is down, say) must not pass for a 401.
        throw (c.security.bearerAuth as { error?: unknown } | undefined)?.error ?? problems.unauthorized();
      },
      validationFail: (c: Context, call: Call) => {
        const headers = ((c.operation.parameters ?? []) as OpenAPIV3.ParameterObject[]).filter((p) => p.in === 'header');
        const headerNames = Object.fromEntries(headers.map((p) => [p.name.toLowerCase(), p.name]));
        const errors = toProblemErrors(c.validation.errors ?? [], headerNames);
        const named = new Set(errors.map((e) => e.pointer));
        throw problems.validation([...errors, ...(call.laxIntegers ?? []).filter((e) => !named.has(e.pointer))]);
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
  // openapi-backend flattens the whole definition anew (lodash, a copy of every operation) on each
  // getOperations(), which routing and validation call several times per request. The definition
  // is fixed once init has dereferenced it, so flatten it once.
  const operations = api.router.getOperations();
  api.router.getOperations = () => operations;
  precompileRouting(api);
  // Needs the dereferenced spec, which init made.
  const laxIntegers = decimalIntegers(api);
  api.register('postRoutingHandler', (c: Context, call: Call) => {
    call.operationId = c.operation?.operationId;
    call.route = c.operation?.path;
    if (c.operation) call.laxIntegers = laxIntegers(c);
  });
  const rateLimit = createRateLimitCheck(api.getOperations(), deps.rateLimits);
  for (const [operationId, handler] of Object.entries(deps.handlers)) {
    api.register(operationId, async (c: Context, call: Call): Promise<Reply> => {
      // After validation, so the body is known to be the spec's shape (and shallow).
      const invalid = [...(call.laxIntegers ?? []), ...unstorableStrings(c.request.requestBody)];
      if (invalid.length > 0) throw problems.validation(invalid);
      const request: HandlerRequest<OperationId> = {
        body: c.request.requestBody,
        query: c.request.query,
        params: c.request.params,
        headers: c.request.headers as HandlerRequest<OperationId>['headers'],
        caller: c.security?.bearerAuth as Caller | undefined,
        client: call.client,
        gone: call.gone,
      };
      await rateLimit(c.operation, request);
      return (handler as (r: typeof request) => Promise<Reply>)(request);
    });
  }
  return api;
}
