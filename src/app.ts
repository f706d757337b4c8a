import cors from 'cors';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { limitPerAddress } from './auth/address-limit.js';
import { createAuth } from './auth/index.js';
import type { Config } from './config.js';
import type { Metrics } from './metrics.js';
import { docsAssets, docsPolicy } from './docs/assets.js';
import { createHandlers } from './handlers/index.js';
import { accessLog } from './http/access-log.js';
import { createBackend, type Call, type RawRequest } from './http/backend.js';
import { toAppError } from './http/errors.js';
import { requestId } from './http/request-id.js';
import { decodablePath, utf8Only } from './http/body.js';
import { problems } from './http/problem.js';
import { protocolChecks } from './http/protocol.js';
import { createResponseValidator } from './http/response-validator.js';
import { send, type Sent } from './http/send.js';
import { createUserBounds } from './http/user-bounds.js';
import { clientAddress } from './limits/client-address.js';
import { createLimits, specLimits } from './limits/index.js';
import { createMail, type MailWorkerOptions } from './mail/index.js';
import { createSync } from './sync/index.js';

export interface AppDeps {
  config: Config;
  knex: Knex;
  logger: Logger;
  /** When set (METRICS_PORT), every response is timed into it. */
  metrics?: Metrics;
  /** Called with every mismatch between a response and the spec; tests fail on any. */
  onResponseViolation?: (violations: string[]) => void;
  /** Tests make the mail worker poll and retry in milliseconds; production uses its defaults. */
  mailWorker?: Partial<MailWorkerOptions>;
  /** True once the process is shutting down: /readyz then answers 503 (src/main.ts). */
  isStopping?: () => boolean;
}

const BODY_LIMIT = 64 * 1024;

export async function createApp(deps: AppDeps) {
  const { config, knex, logger } = deps;
  const limits = createLimits(config, knex);
  const mail = createMail({ config, knex, logger, registry: deps.metrics?.registry, worker: deps.mailWorker });
  const auth = createAuth(config, knex, mail);
  const sync = createSync({ config, knex, logger, metrics: deps.metrics?.streams });
  const api = await createBackend({
    handlers: createHandlers({ config, knex, auth, sync, isStopping: deps.isStopping }),
    authenticate: auth.authenticate,
    rateLimits: specLimits(limits),
    userBounds: createUserBounds({
      reads: limits.userReads,
      inFlight: limits.userRequestsInFlight,
      // One at a time per process: one user's costliest statements then take at most one core of
      // the database per process, whatever else of its share waits (bench/greedy-user.ts: two at
      // a time let one user's searches make another's GET /tasks 10 times slower on 2 cores).
      // Lifted with the cap.
      runningPerUser: config.limits.userRequestsInFlight === 0 ? Infinity : 1,
    }),
  });
  deps.metrics?.expectRoutes(api.operations.map((op) => ({ method: op.method.toUpperCase(), route: op.path })));
  const validateResponse = deps.onResponseViolation && createResponseValidator(api.definition);

  const check = (operationId: string | undefined, sent: Sent) => {
    const violations = validateResponse?.(operationId, sent) ?? [];
    if (violations.length > 0) deps.onResponseViolation!(violations);
  };

  // The request as the spec names it; requests refused before routing (rate limits, bad paths) are matched here.
  const routeOf = (req: express.Request) =>
    (req.res?.locals.call as Call | undefined)?.route ?? api.routeOf(req.method === 'HEAD' ? 'GET' : req.method, req.path);

  const app = express();
  app.disable('x-powered-by');
  if (deps.metrics) app.use(deps.metrics.middleware(routeOf));
  app.set('trust proxy', config.http.trustedProxies.length > 0 ? config.http.trustedProxies : false);
  app.set('query parser', 'simple');
  app.use(requestId);
  // Who asked and from where, for an incident: the user's id (never the e-mail) and the client
  // address as the rate limits see it (X-Forwarded-For only from TRUSTED_PROXIES).
  app.use(accessLog(logger, (req, res) => ({ user_id: (res.locals.call as Call | undefined)?.userId, client_address: req.ip })));
  app.use(docsPolicy);
  if (config.http.corsOrigins.length > 0) {
    const origin = config.http.corsOrigins.includes('*') ? '*' : config.http.corsOrigins;
    app.use(cors({ origin, exposedHeaders: ['ETag', 'Idempotent-Replayed', 'Location', 'Retry-After', 'X-Request-Id'] }));
  }
  app.use(protocolChecks);
  app.use((req, _res, next) => next(decodablePath(req.path) ? undefined : problems.notFound('The path is not validly percent-encoded.')));
  // Only where the operation takes a body: elsewhere a body is ignored, never a reason for 400 or 413.
  const takesJson = (req: express.Request) =>
    req.is('application/json') === 'application/json' && api.takesBody(req.method, req.path);
  app.use(express.json({ limit: BODY_LIMIT, strict: false, type: (req) => takesJson(req as express.Request), verify: utf8Only }));
  app.use(docsAssets);
  app.use('/auth', limitPerAddress(limits.authRequests));

  const route: RequestHandler = async (req, res, next) => {
    const call: Call = {
      hasBody: Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined,
      client: () => clientAddress(req),
      gone: () => req.socket.destroyed,
    };
    res.locals.call = call;
    try {
      const request: RawRequest = {
        // HEAD is GET without the body (Node drops it), as HTTP requires; the spec lists GET only.
        method: req.method === 'HEAD' ? 'GET' : req.method,
        path: req.path,
        query: req.query as RawRequest['query'],
        headers: req.headers,
        body: req.body,
      };
      const result = await api.handle(request, call).finally(() => call.release?.());
      check(call.operationId, send(res, result));
    } catch (error) {
      next(error);
    }
  };
  app.use(route);

  const problemMiddleware: ErrorRequestHandler = (error, req, res, _next) => {
    const { error: appError } = toAppError(error);
    // The request's own log line (src/http/access-log.ts) carries it, at error level.
    if (appError.status >= 500) res.err = error as Error;
    if (res.headersSent) return res.end();
    const call = res.locals.call as Call | undefined;
    check(call?.operationId, send(res, {
      status: appError.status,
      body: appError.toProblem(req.originalUrl.split('?')[0]),
      headers: appError.extra.headers,
    }));
  };
  app.use(problemMiddleware);

  /** Releases what the app holds besides `knex`: the mail worker, the rate limiter's and the change listener's connections. */
  const close = async () => {
    await mail.close();
    await sync.streams.close();
    await limits.close();
  };
  /** Graceful shutdown, before the server waits for requests to finish: event streams never do. */
  const endStreams = () => sync.streams.endAll();
  return { app, api, close, endStreams };
}
