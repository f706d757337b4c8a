import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { UUID } from '../http/ajv.js';

/**
 * A PostgreSQL snapshot (`pg_snapshot`, as its text `xmin:xmax:xip,…`) and when the database took
 * it (its clock, in milliseconds).
 */
export interface Snapshot {
  text: string;
  at: number;
}

/** A change's place in the feed's order. */
export interface Key {
  xid: string;
  id: string;
}

/**
 * Where a client stands in the change feed (see feed.ts):
 * - `since`: it has every change visible in `snapshot` (null: none yet, a sync from nothing);
 * - `window`: it has every change visible in `from` (null: none), and of those visible in `to` but
 *   not in `from`, every one up to `after` in the feed's order.
 */
export type Position =
  | { kind: 'since'; snapshot: Snapshot | null }
  | { kind: 'window'; from: Snapshot | null; to: Snapshot; after: Key };

/**
 * When the oldest snapshot a position reads changes after was taken: deletions older than the
 * retention may be pruned, so a position older than that can no longer be continued.
 */
export const positionTakenAt = (p: Position): number | undefined => (p.kind === 'since' ? p.snapshot?.at : (p.from ?? p.to).at);

const DIGITS = /^\d{1,20}$/;
const MAC_BYTES = 16;

// A snapshot as its xmin and the other ids as offsets from it: under load the in-progress list
// holds dozens of 7-digit ids, and the offsets are a third as long.
type Packed = [xmin: string, xmax: number, xip: number[], at: number];

function pack({ text, at }: Snapshot): Packed {
  const [xmin = '', xmax = '', xip = ''] = text.split(':');
  const base = BigInt(xmin);
  const offset = (xid: string) => Number(BigInt(xid) - base);
  return [xmin, offset(xmax), xip === '' ? [] : xip.split(',').map(offset), at];
}

const offsetOk = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

function unpack(value: unknown): Snapshot | undefined {
  if (!Array.isArray(value) || value.length !== 4) return undefined;
  const [xmin, xmax, xip, at] = value as unknown[];
  if (typeof xmin !== 'string' || !DIGITS.test(xmin) || !offsetOk(xmax) || !Array.isArray(xip) || !xip.every(offsetOk)) return undefined;
  if (!Number.isSafeInteger(at)) return undefined;
  // pg_snapshot's own rules: xip ascending, each in [xmin, xmax).
  const ordered = (xip as number[]).every((x, i, all) => x < (xmax as number) && (i === 0 || all[i - 1]! < x));
  if (!ordered) return undefined;
  const base = BigInt(xmin);
  const id = (n: number) => String(base + BigInt(n));
  return { text: `${xmin}:${id(xmax as number)}:${(xip as number[]).map(id).join(',')}`, at: at as number };
}

const packOptional = (s: Snapshot | null) => (s === null ? null : pack(s));

function positionOf(payload: unknown): Position | undefined {
  if (!Array.isArray(payload)) return undefined;
  const [kind, ...rest] = payload as unknown[];
  if (kind === 0 && rest.length === 1) {
    if (rest[0] === null) return { kind: 'since', snapshot: null };
    const snapshot = unpack(rest[0]);
    return snapshot && { kind: 'since', snapshot };
  }
  if (kind === 1 && rest.length === 4) {
    const [from, to, xid, id] = rest;
    const fromSnapshot = from === null ? null : unpack(from);
    const toSnapshot = unpack(to);
    const keyOk = typeof xid === 'string' && DIGITS.test(xid) && typeof id === 'string' && UUID.test(id);
    if (fromSnapshot === undefined || !toSnapshot || !keyOk) return undefined;
    return { kind: 'window', from: fromSnapshot, to: toSnapshot, after: { xid, id } };
  }
  return undefined;
}

/**
 * Feed positions as opaque tokens: `base64url(JSON) . base64url(HMAC)`, the HMAC (with a key
 * derived from SECRET_KEY) covering the payload and the user it was made for. A token that was
 * altered, or that another user sends, does not verify; nothing in it is trusted before it does.
 */
export function createPositionTokens(secretKey: string) {
  // A key of its own, so that no other signature (tokens, cursors) can ever pass for a position's.
  const key = Buffer.from(hkdfSync('sha256', secretKey, '', 'task-management-api sync position v1', 32));
  const mac = (userId: string, payload: string) =>
    createHmac('sha256', key).update(userId).update('\n').update(payload).digest().subarray(0, MAC_BYTES).toString('base64url');

  return {
    encode(userId: string, position: Position): string {
      const payload =
        position.kind === 'since'
          ? [0, packOptional(position.snapshot)]
          : [1, packOptional(position.from), pack(position.to), position.after.xid, position.after.id];
      const text = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${text}.${mac(userId, text)}`;
    },

    /** The position a token names, or undefined when it is malformed, altered or another user's. */
    decode(userId: string, token: string): Position | undefined {
      const [payload = '', signature, ...rest] = token.split('.');
      if (signature === undefined || rest.length > 0) return undefined;
      // Compared as text: base64url decoding skips stray characters, which would let variants pass.
      const expected = Buffer.from(mac(userId, payload));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      try {
        return positionOf(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
      } catch {
        return undefined;
      }
    },
  };
}

export type PositionTokens = ReturnType<typeof createPositionTokens>;
