import { Ajv, type ValidateFunction } from 'ajv';
import { OpenAPIBackend, ValidationContext, type Operation } from 'openapi-backend';
import type { OpenAPIV3 } from 'openapi-types';
import { loadSpec } from '../spec.js';
import { checkMediaType, checkRoles } from './access.js';
import { withFormats } from './ajv.js';
import { decimalIntegers } from './integers.js';
import type { Caller, HandlerRequest, OperationHandlers, OperationId } from './operations.js';
import { AppError, problems } from './problem.js';
import type { Reply } from './reply.js';
import { toProblemErrors } from './validation-errors.js';
import { unstorableStrings } from './body.js';
import { createRateLimitCheck, type SpecLimits } from './rate-limits.js';
import { createRouter } from './routing.js';
import type { UserBounds } from './user-bounds.js';

/** A request as express parsed it: header names lower-case, the query its simple parser's. */
export interface RawRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** What the express glue knows of a request and hands to the backend with it. */
export interface Call {
  hasBody: boolean;
  /** The client address key (see clientAddress), worked out only when asked for. */
  client(): string;
  /** Whether the client has closed its connection. */
  gone(): boolean;
  operationId?: string;
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

function bearerToken(headers: RawRequest['headers']): string {
  const token = bearerOf(headers.authorization);
  if (!token) throw problems.unauthorized('An access token is required: send Authorization: Bearer <token>.');
  return token;
}

/** What the spec says of an operation that every request to it needs, worked out once at start-up. */
interface Plan {
  operation: Operation;
  /** Whether a caller must present a bearer token (the spec's security, global or its own). */
  secured: boolean;
  /** Query parameters of array type: a single value becomes a one-item array, as openapi-backend does. */
  arrayQuery: string[];
  /** The spec's spelling of each header parameter, by its lower-case name (for error pointers). */
  headerNames: Record<string, string>;
  validators?: ValidateFunction[];
}

export interface Backend {
  /** The dereferenced spec. */
  definition: OpenAPIV3.Document;
  operations: Operation[];
  /** The spec's path template for a method and path, if one matches. */
  routeOf(method: string, path: string): string | undefined;
  /** Whether the operation a method and path name takes a request body. */
  takesBody(method: string, path: string): boolean;
  /** Answers one request: routes, authenticates, validates and runs the operation's handler. Refusals throw. */
  handle(request: RawRequest, call: Call): Promise<Reply>;
}

/**
 * The spec's request pipeline, in openapi-backend's order (route, security, roles and media type,
 * validation, rate limit, handler), with its router and validator used directly: the operation
 * is matched once and the request's parts read once, where its handleRequest parsed each request
 * four times over (headers lower-cased, query deep-cloned, path template compiled each time).
 */
export async function createBackend(deps: BackendDeps): Promise<Backend> {
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
  });
  await api.init();
  // openapi-backend flattens the whole definition anew (lodash, a copy of every operation) on each
  // getOperations(), which its validator calls to find an operation. The definition is fixed once
  // init has dereferenced it, so flatten it once.
  const operations = api.router.getOperations();
  api.router.getOperations = () => operations;
  const route = createRouter(operations);
  const laxIntegers = decimalIntegers(operations);
  const rateLimit = createRateLimitCheck(operations, deps.rateLimits);

  const plans = new Map<Operation, Plan>(
    operations.map((operation) => {
      const parameters = (operation.parameters ?? []) as OpenAPIV3.ParameterObject[];
      const headers = parameters.filter((p) => p.in === 'header');
      return [
        operation,
        {
          operation,
          secured: (operation.security ?? []).some((requirement) => 'bearerAuth' in requirement),
          arrayQuery: parameters.filter((p) => p.in === 'query' && (p.schema as OpenAPIV3.SchemaObject | undefined)?.type === 'array').map((p) => p.name),
          headerNames: Object.fromEntries(headers.map((p) => [p.name.toLowerCase(), p.name])),
        },
      ];
    }),
  );
  // Compiled on an operation's first request (see quick above).
  const validatorsOf = (plan: Plan) => (plan.validators ??= api.validator.getRequestValidatorsForOperation(plan.operation.operationId!) ?? []);

  function refuseRoute(miss: 404 | 405, method: string, path: string): never {
    if (miss === 404) throw problems.notFound(`There is no ${path} here.`);
    const allow = METHODS.filter((m) => route(m, path).operation)
      .map((m) => m.toUpperCase())
      .join(', ');
    throw new AppError(405, 'method-not-allowed', `${path} allows ${allow}.`, { headers: { Allow: allow } });
  }

  return {
    definition: api.definition as OpenAPIV3.Document,
    operations,
    routeOf: (method, path) => route(method, path).operation?.path,
    takesBody: (method, path) => Boolean(route(method, path).operation?.requestBody),

    async handle(request, call) {
      const found = route(request.method, request.path);
      if (!found.operation) refuseRoute(found.miss, request.method, request.path);
      const { operation, params } = found;
      const plan = plans.get(operation)!;
      call.operationId = operation.operationId;
      call.route = operation.path;
      const { headers } = request;
      // ajv coerces and fills in defaults in place: the query is the request's own copy.
      const query: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(request.query)) query[name] = Array.isArray(value) ? [...value] : value;
      // Read before ajv coerces the values.
      const lax = laxIntegers(operation, { query, path: params, header: headers });

      // Every authenticated operation counts against its user's share, before the session lookup.
      const caller = plan.secured
        ? await deps.authenticate(bearerToken(headers), async (userId) => {
            call.release = await deps.userBounds(operation, userId);
          })
        : undefined;
      if (caller) {
        call.userId = caller.userId;
        checkRoles(operation, query, caller);
      }
      checkMediaType(operation, headers, call.hasBody);

      for (const name of plan.arrayQuery) if (typeof query[name] === 'string') query[name] = [query[name]];
      const contentType = String(headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const parts: Record<string, unknown> = { path: params, query, header: { ...headers }, cookie: {} };
      if (typeof request.body === 'object' || contentType === 'application/json') parts.requestBody = request.body;
      const errors = validatorsOf(plan).flatMap((validate) => (validate(parts) ? [] : (validate.errors ?? [])));
      if (errors.length > 0) {
        const bySchema = toProblemErrors(errors, plan.headerNames);
        const named = new Set(bySchema.map((e) => e.pointer));
        throw problems.validation([...bySchema, ...lax.filter((e) => !named.has(e.pointer))]);
      }
      // After validation, so the body is known to be the spec's shape (and shallow).
      const invalid = [...lax, ...unstorableStrings(request.body)];
      if (invalid.length > 0) throw problems.validation(invalid);

      const handler = deps.handlers[operation.operationId as OperationId];
      if (!handler) throw new AppError(501, 'not-implemented', `${operation.operationId} is not implemented yet.`);
      const handlerRequest: HandlerRequest<OperationId> = {
        body: request.body as HandlerRequest<OperationId>['body'],
        query: query as HandlerRequest<OperationId>['query'],
        params: params as HandlerRequest<OperationId>['params'],
        headers: headers as HandlerRequest<OperationId>['headers'],
        caller,
        client: call.client,
        gone: call.gone,
      };
      await rateLimit(operation, handlerRequest);
      return (handler as (r: typeof handlerRequest) => Promise<Reply>)(handlerRequest);
    },
  };
}
