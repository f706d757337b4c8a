import { chainOf, isConnectionLoss, type ErrorLike } from '../db/connection-loss.js';
import { AppError, problems } from './problem.js';

// body-parser's error types; it answers them as HTML unless they are mapped here.
const BODY_ERRORS: Record<string, () => AppError> = {
  'entity.parse.failed': () => new AppError(400, 'malformed-json', 'The request body is not valid JSON.'),
  'entity.utf8.invalid': () => new AppError(400, 'malformed-json', 'The request body is not valid UTF-8.'),
  'entity.too.large': () => new AppError(413, 'payload-too-large', 'The request body is larger than 65536 bytes.'),
  'encoding.unsupported': () => new AppError(415, 'unsupported-media-type', 'Send the body as UTF-8 application/json.'),
  'charset.unsupported': () => new AppError(415, 'unsupported-media-type', 'Send the body as UTF-8 application/json.'),
  'request.aborted': () => new AppError(400, 'bad-request', 'The request body was not received in full.'),
  'request.size.invalid': () => new AppError(400, 'bad-request', 'The request body does not match its Content-Length.'),
};

const STATEMENT_TIMEOUT = '57014';

/**
 * The one place that decides what an error means to the client. Anything unrecognised is a 500
 * whose detail says nothing about the cause (the log has it).
 */
export function toAppError(error: unknown): { error: AppError; unexpected: boolean } {
  if (error instanceof AppError) return { error, unexpected: false };
  const e = (error ?? {}) as ErrorLike & { type?: unknown; status?: unknown };
  const bodyError = typeof e.type === 'string' ? BODY_ERRORS[e.type] : undefined;
  if (bodyError) return { error: bodyError(), unexpected: false };
  // DATABASE_STATEMENT_TIMEOUT_MS cut a statement off: the database is overloaded or a lock is held
  // too long; worth a log line, and the client may retry.
  if ([...chainOf(error)].some((link) => link.code === STATEMENT_TIMEOUT)) {
    return { error: problems.unavailable('The database took too long to answer; try again shortly.'), unexpected: true };
  }
  if (isConnectionLoss(error)) {
    return { error: problems.unavailable(), unexpected: false };
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return { error: new AppError(e.status, 'bad-request', 'The request cannot be processed.'), unexpected: false };
  }
  return { error: new AppError(500, 'internal-error', 'Something went wrong on our side; it has been logged.'), unexpected: true };
}
