import { createHash } from 'node:crypto';

/**
 * The key an `Idempotency-Key` header names: the content of an RFC 8941 string (`"…"`, with `\"`
 * and `\\` escapes) or the bare value, so that both forms name the same key. The spec's pattern
 * has already refused every other form.
 */
export const parseKey = (header: string) => (header.startsWith('"') ? header.slice(1, -1).replace(/\\(["\\])/g, '$1') : header);

/** RFC 8785 canonical JSON: object members sorted by UTF-16 code units, numbers and strings as ECMAScript writes them. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${members.map(([name, member]) => `${JSON.stringify(name)}:${canonicalJson(member)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Equal for bodies that are equal as JSON values (member order and spacing aside), and only for those. */
export const fingerprintOf = (body: unknown) => createHash('sha256').update(canonicalJson(body)).digest('hex');

/** 64 bits of a hash of `name`, as an advisory-lock id. */
const lockId = (name: string) => createHash('sha256').update(name).digest().readBigInt64BE(0).toString();

/**
 * The advisory-lock id of a caller's key: 64 bits of a hash, namespaced so it cannot meet another
 * use of advisory locks by accident. Should two keys ever collide, the worst is a 409 for one of
 * them while a request with the other is running.
 */
export const lockIdOf = (userId: string, key: string) => lockId(`idempotency-key\0${userId}\0${key}`);

/** The advisory-lock id under which a caller's stored responses are counted and dropped. */
export const capLockIdOf = (userId: string) => lockId(`idempotency-keys-of\0${userId}`);

