/**
 * A connection could not be made. Whatever PostgreSQL or the network said (refused, starting up,
 * not accepting connections, PgBouncer unable to reach its server), the database is unavailable
 * to the request that needed it, which is all its client can act on.
 */
export class DatabaseUnreachable extends Error {
  override name = 'DatabaseUnreachable';
  constructor(cause: unknown) {
    super('Could not connect to the database', { cause });
  }
}

// The session is gone or could not begin: PostgreSQL ending it (57P01 admin shutdown, 57P02 crash
// shutdown, 57P03 not yet accepting, 53300 too many connections), refusing it (class 28
// credentials, 3D000 no such database: only ever said to a connection being made, here also to
// the rate limiter's own pool, whose connect errors are not wrapped), connection exceptions
// (class 08, PgBouncer's "server conn crashed?" among them) and socket errors.
const LOST_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH',
  '57P01', '57P02', '57P03', '53300', '28000', '28P01', '3D000',
]);
// What pg, knex and PGlite say, with no code, when a connection died under a query (pg: "Connection
// terminated unexpectedly"), when a client whose connection died is asked again ("…has encountered
// a connection error and is not queryable": the COMMIT or ROLLBACK after it), and when a pool has
// none to give ("Knex: Timeout acquiring a connection", "Unable to acquire a connection"), and
// PostgreSQL refusing connections to a database (55000, a code it also uses for other things).
const LOST_MESSAGES =
  /Connection terminated|is not queryable|Client was closed|PGlite is closed|Unable to acquire a connection|Timeout acquiring a connection|timeout exceeded when trying to connect|is not currently accepting connections/i;

export type ErrorLike = { code?: unknown; name?: unknown; message?: unknown; severity?: unknown; nativeError?: unknown; cause?: unknown };

/** The error and those it wraps (Objection's `nativeError`, `cause`), outermost first. */
export function* chainOf(error: unknown): Generator<ErrorLike> {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const link = e as ErrorLike;
    yield link;
    e = link.nativeError ?? link.cause;
  }
}

function isLost(error: ErrorLike): boolean {
  // A FATAL (or PANIC) error ends the session that received it, whatever its code.
  if (error instanceof DatabaseUnreachable || error.name === 'KnexTimeoutError' || error.severity === 'FATAL' || error.severity === 'PANIC') return true;
  if (typeof error.code === 'string' && (LOST_CODES.has(error.code) || error.code.startsWith('08'))) return true;
  return typeof error.message === 'string' && LOST_MESSAGES.test(error.message);
}

/** Whether `error` says the database, or this process's connection to it, is gone. */
export const isConnectionLoss = (error: unknown) => [...chainOf(error)].some(isLost);
