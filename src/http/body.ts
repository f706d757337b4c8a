import { isUtf8 } from 'node:buffer';
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

// Typed as body-parser types its own errors, so that errors.ts maps them with the rest.
const bodyError = (type: string) => Object.assign(new Error(type), { type });

/**
 * express.json's `verify`: it sees the raw bytes before body-parser decodes them, and refuses what
 * is not UTF-8, which body-parser would otherwise decode (UTF-7, UTF-16, UTF-32) or patch with U+FFFD.
 */
export function utf8Only(_req: unknown, _res: unknown, body: Buffer, charset: string | null): void {
  if (charset !== 'utf-8') throw bodyError('charset.unsupported');
  if (!isUtf8(body)) throw bodyError('entity.utf8.invalid');
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
