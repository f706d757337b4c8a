// The date-times this API takes: RFC 3339 with a time zone (ajv-formats' `date-time`, which also
// takes a space for the `T`, `+0100` and `+01`), whose instant falls in the years 1000 to 9999 in
// UTC. Within those, both databases and `Date#toISOString` write every instant back as RFC 3339
// (PostgreSQL refuses year 0, PGlite reads years below 100 back as 19xx, `toISOString` writes
// years past 9999 with six digits and a sign).
const PARTS = /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|([+-])(\d\d)(?::?(\d\d))?)$/;
const EARLIEST = Date.UTC(1000, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Milliseconds since the epoch of a date-time that ajv-formats' `date-time` accepts, or undefined
 * when its instant is out of range. Digits past the millisecond round half up; a leap second
 * (`23:59:60`) is the second after, as PostgreSQL reads it. Computed here rather than by the
 * database, so that what was checked is what is stored, on either database.
 */
export function instantOf(text: string): number | undefined {
  const parts = PARTS.exec(text);
  if (!parts) return undefined;
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const [fraction = '', sign, offsetHours = '0', offsetMinutes = '0'] = parts.slice(7);
  // Date.UTC reads years 0-99 as 1900-1999; none of them is in range.
  if (year < 100) return undefined;
  const offset = (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes));
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3)) + (fraction[3] !== undefined && fraction[3] >= '5' ? 1 : 0);
  const instant = Date.UTC(year, month - 1, day, hour, minute - offset, second, millis);
  return instant >= EARLIEST && instant <= LATEST ? instant : undefined;
}

export const DATE_TIME_MESSAGE = 'must be a date-time with a time zone, such as 2026-12-01T00:00:00Z, in the years 1000 to 9999';
