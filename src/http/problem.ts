import type { components } from '../../generated/openapi.js';

export type Problem = components['schemas']['Problem'];
export type ProblemError = components['schemas']['ProblemError'];

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  417: 'Expectation Failed',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/**
 * The one error type of the service: anything that ends a request early is an AppError,
 * and the error middleware turns it into problem+json.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    detail: string,
    readonly extra: { errors?: ProblemError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
  }

  toProblem(instance?: string): Problem {
    return {
      type: `/problems/${this.slug}`,
      title: TITLES[this.status] ?? 'Error',
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...(this.extra.errors ? { errors: this.extra.errors } : {}),
    };
  }
}

const BEARER = { 'WWW-Authenticate': 'Bearer' };
// A body of thousands of unknown keys would otherwise get an answer several times its own size.
const MAX_LISTED_ERRORS = 50;

function validationDetail(count: number): string {
  const listed = count > MAX_LISTED_ERRORS ? `; the first ${MAX_LISTED_ERRORS} are listed` : '';
  return `The request has ${count} invalid value${count === 1 ? '' : 's'}${listed}.`;
}
const retryAfter = (seconds: number) => ({ 'Retry-After': String(Math.max(1, Math.ceil(seconds))) });
// A guess, for clients that retry: long enough for a database restart or failover to begin answering.
const DATABASE_RETRY_SECONDS = 5;

export const problems = {
  unauthorized: (detail = 'The access token is missing, invalid, expired or revoked.', slug = 'unauthorized') =>
    new AppError(401, slug, detail, { headers: BEARER }),
  forbidden: (detail: string) => new AppError(403, 'forbidden', detail),
  notFound: (detail: string) => new AppError(404, 'not-found', detail),
  conflict: (detail: string) => new AppError(409, 'conflict', detail),
  preconditionFailed: (detail: string) => new AppError(412, 'precondition-failed', detail),
  validation: (errors: ProblemError[]) =>
    new AppError(422, 'validation-error', validationDetail(errors.length), { errors: errors.slice(0, MAX_LISTED_ERRORS) }),
  tooManyRequests: (retryAfterSeconds: number, detail: string) =>
    new AppError(429, 'too-many-requests', detail, { headers: retryAfter(retryAfterSeconds) }),
  unavailable: (detail = 'The database is not answering; try again shortly.', retryAfterSeconds = DATABASE_RETRY_SECONDS) =>
    new AppError(503, 'service-unavailable', detail, { headers: retryAfter(retryAfterSeconds) }),
};
