import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { UUID } from '../http/ajv.js';

/** Where a cursor page starts: right after the row with this sort value and id, the `position`-th row of the listing. */
export interface After {
  /** The sort column's value: a string, or milliseconds for a timestamp. */
  value: string | number;
  id: string;
  position: number;
}

/** Cursors of one listing: only the listing (resource, caller, sort, filters) that made one takes it back. */
export interface ListingCursors {
  encode(after: After): string;
  /** The position a cursor names, or undefined when it is malformed, altered or from another listing. */
  decode(cursor: string): After | undefined;
}

const MAC_BYTES = 16;

function afterOf(payload: unknown): After | undefined {
  if (!Array.isArray(payload) || payload.length !== 3) return undefined;
  const [value, id, position] = payload as unknown[];
  const valid =
    (typeof value === 'string' || Number.isSafeInteger(value)) &&
    typeof id === 'string' && UUID.test(id) &&
    Number.isSafeInteger(position) && (position as number) >= 0;
  return valid ? { value: value as string | number, id, position: position as number } : undefined;
}

/**
 * Opaque listing cursors: `base64url(JSON [value, id, position]) . base64url(HMAC)`. The HMAC
 * (with a key derived from SECRET_KEY) covers the payload and the listing it belongs to, so a
 * cursor that was altered, or sent with another sort, other filters or by another caller, simply
 * does not verify; nothing about it is trusted before it does.
 */
export function createCursors(secretKey: string) {
  // A key of its own, so that no token signature can ever double as a cursor signature (or back).
  const key = Buffer.from(hkdfSync('sha256', secretKey, '', 'task-management-api listing cursor v1', 32));
  const mac = (scope: string, payload: string) =>
    createHmac('sha256', key).update(scope).update('\n').update(payload).digest().subarray(0, MAC_BYTES).toString('base64url');

  return {
    /** `listing` names everything a cursor is bound to, e.g. `['tasks', callerId, sort, status, q, ownerId]`. */
    of(listing: unknown[]): ListingCursors {
      const scope = JSON.stringify(listing);
      return {
        encode({ value, id, position }) {
          const payload = Buffer.from(JSON.stringify([value, id, position])).toString('base64url');
          return `${payload}.${mac(scope, payload)}`;
        },
        decode(cursor) {
          const [payload = '', signature, ...rest] = cursor.split('.');
          if (signature === undefined || rest.length > 0) return undefined;
          // Compared as text: base64url decoding skips stray characters, which would let variants pass.
          const expected = Buffer.from(mac(scope, payload));
          const given = Buffer.from(signature);
          if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
          try {
            return afterOf(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
          } catch {
            return undefined;
          }
        },
      };
    },
  };
}

export type Cursors = ReturnType<typeof createCursors>;
