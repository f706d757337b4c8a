import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

declare module 'node:http' {
  interface ServerResponse {
    /** The error behind a 5xx, for the request's log line. */
    err?: Error;
  }
}

/**
 * One line per request when it ends (`reqId`, `req` {method, path}, `res` {status},
 * `responseTime` and what `facts` adds), at info, or at error with the cause (`res.err`) for a 5xx.
 * The line is made only at a level that is written: pino-http, which wrote the same lines, made
 * two child loggers per request (serializing their bindings) even at LOG_LEVEL=warn, where no
 * request's line is ever written.
 */
export function accessLog(logger: Logger, facts: (req: Request, res: Response) => Record<string, unknown>): RequestHandler {
  return (req, res, next) => {
    const start = Date.now();
    const done = (err?: Error) => {
      res.off('finish', done);
      res.off('close', done);
      res.off('error', done);
      const error = err ?? res.err ?? (res.statusCode >= 500 ? new Error(`failed with status code ${res.statusCode}`) : undefined);
      if (!logger.isLevelEnabled(error ? 'error' : 'info')) return;
      const line = {
        reqId: res.locals.requestId as unknown,
        // Method, path and status only: headers carry tokens and query strings can carry personal data.
        req: { method: req.method, path: req.originalUrl.split('?')[0] },
        res: { status: res.statusCode },
        responseTime: Date.now() - start,
        ...facts(req, res),
      };
      if (error) logger.error({ ...line, err: error }, 'request errored');
      else logger.info(line, 'request completed');
    };
    res.on('finish', done);
    res.on('close', done);
    res.on('error', done);
    next();
  };
}
