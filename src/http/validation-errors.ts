import type { ErrorObject } from 'ajv';
import { DATE_TIME_MESSAGE } from './date-time.js';
import type { ProblemError } from './problem.js';

// openapi-backend validates one object whose top-level keys name the request part.
const PARTS: Record<string, string> = { requestBody: 'body', query: 'query', path: 'path', header: 'header' };

/** RFC 6901: a property name as one JSON-pointer token. */
export const escapeToken = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1');

function pointerOf(error: ErrorObject, headerNames: Record<string, string>): string {
  const [, part = '', ...rest] = error.instancePath.split('/');
  // openapi-backend validates headers under lower-cased names; the pointer uses the spec's spelling.
  if (part === 'header' && rest[0] !== undefined) rest[0] = headerNames[rest[0]] ?? rest[0];
  const tokens = [PARTS[part] ?? part, ...rest];
  const child = error.params.missingProperty ?? error.params.additionalProperty;
  if (typeof child === 'string') tokens.push(escapeToken(child));
  if (error.keyword === 'uniqueItems') tokens.push(String(duplicates(error).later));
  // A missing body is reported as a missing `requestBody` property of the root.
  if (tokens[0] === '' && tokens[1] === 'requestBody') return '/body';
  return `/${tokens.filter((t, i) => i > 0 || t !== '').join('/')}`;
}

/** The two equal items a uniqueItems error names, in either order: the later one is the violation. */
function duplicates(error: ErrorObject) {
  const { i, j } = error.params as { i: number; j: number };
  return { earlier: Math.min(i, j), later: Math.max(i, j) };
}

function messageOf(error: ErrorObject, pointer: string): string {
  switch (error.keyword) {
    case 'required':
      return error.params.missingProperty === 'requestBody' ? 'a JSON body is required' : 'is required';
    case 'additionalProperties':
      return 'is not allowed';
    case 'enum':
      return `must be one of: ${(error.params.allowedValues as unknown[]).join(', ')}`;
    case 'format':
      return error.params.format === 'date-time' ? DATE_TIME_MESSAGE : `must be a valid ${error.params.format}`;
    case 'pattern':
      // A pattern that means more than "no NUL" says so in the spec (needs `verbose` too).
      if (typeof error.parentSchema?.['x-pattern-message'] === 'string') return error.parentSchema['x-pattern-message'];
      return String(error.params.pattern).includes('[^\\s')
        ? 'must not be blank or contain NUL characters'
        : 'must not contain NUL characters';
    case 'minLength':
      return error.params.limit === 1 ? 'must not be empty' : (error.message ?? 'is invalid');
    case 'minProperties':
      return 'must contain at least one field';
    case 'uniqueItems':
      return `repeats ${pointer.slice(0, pointer.lastIndexOf('/'))}/${duplicates(error).earlier}`;
    case 'type':
      // Needs ajv's `verbose` option, which puts the offending value in `data`.
      if (Array.isArray(error.data) && error.instancePath.startsWith('/query/')) return 'must be given once';
      return `must be of type ${error.params.type}`;
    default:
      return error.message ?? 'is invalid';
  }
}

/**
 * One violation per pointer into the request, as the contract names it: a value that breaks
 * several rules (an empty title is both too short and blank) is named once, by the first.
 * `headerNames` maps lower-cased header names to the spec's spelling (`idempotency-key` → `Idempotency-Key`).
 */
export function toProblemErrors(errors: ErrorObject[], headerNames: Record<string, string> = {}): ProblemError[] {
  const byPointer = new Map<string, ProblemError>();
  for (const error of errors) {
    const pointer = pointerOf(error, headerNames);
    if (!byPointer.has(pointer)) byPointer.set(pointer, { pointer, message: messageOf(error, pointer) });
  }
  return [...byPointer.values()];
}
