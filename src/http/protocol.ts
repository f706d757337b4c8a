import type { RequestHandler } from 'express';
import { AppError } from './problem.js';

const CONTINUE = /^\s*100-continue\s*$/i;

/**
 * The most header lines a request may have. Node's server would read 1000 and drop the rest
 * without a word (an If-Match or Idempotency-Key among them: a stale overwrite, a second task);
 * it now reads them all (server.ts: maxHeadersCount 0, the 16 KiB header size still bounding
 * them) and a request with more is refused here. 1000 is what Node read before, so no request
 * that was answered in full is refused now.
 */
export const MAX_HEADER_LINES = 1000;

/**
 * HTTP rules Node's server would enforce with bare answers, left to the app (server.ts) so that
 * they are problem+json with an X-Request-Id like every other error.
 */
export const protocolChecks: RequestHandler = (req, res, next) => {
  if (req.rawHeaders.length / 2 > MAX_HEADER_LINES) {
    return next(new AppError(431, 'headers-too-large', `The request has more than ${MAX_HEADER_LINES} header lines.`));
  }
  const http11 = req.httpVersion === '1.1';
  if (http11 && req.headers.host === undefined) {
    return next(new AppError(400, 'bad-request', 'An HTTP/1.1 request needs a Host header.'));
  }
  const expectation = req.headers.expect;
  if (expectation !== undefined) {
    if (!CONTINUE.test(expectation)) {
      return next(new AppError(417, 'expectation-failed', 'The only expectation this server meets is 100-continue.'));
    }
    // HTTP/1.0 has no 100 Continue (RFC 9110 §10.1.1: ignore the expectation).
    if (http11) res.writeContinue();
  }
  next();
};
