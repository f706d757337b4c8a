import type { ProblemError } from './problem.js';
import { escapeToken } from './validation-errors.js';

// With the `u` flag this matches only a surrogate without its pair: not valid Unicode, and
// PostgreSQL would store U+FFFD in its place.
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Every string in a JSON body that could not be stored exactly as sent. */
export function unstorableStrings(value: unknown, pointer = '/body'): ProblemError[] {
  if (typeof value === 'string') {
    return LONE_SURROGATE.test(value) ? [{ pointer, message: 'must be valid Unicode (it has a lone surrogate)' }] : [];
  }
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) => unstorableStrings(item, `${pointer}/${escapeToken(key)}`));
}

/** A path whose percent-escapes do not decode names no resource. */
export function decodablePath(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}
