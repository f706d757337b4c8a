import type { ProblemError } from '../http/problem.js';

/**
 * A label as labels are compared, ignoring case: one key for `Q4` and `q4`, and for `Straße` and
 * `STRASSE` (upper-casing first turns ß into SS, as Unicode's full case folding does). Worked out
 * here rather than by the database, whose lower() and upper() differ between PostgreSQL's
 * collations and versions (PGlite's upper('ß') is 'ẞ', PostgreSQL 15's is 'ß'): the key is stored
 * beside the label, so the filter and GET /labels compare alike on both databases.
 */
export const labelKey = (label: string) => label.toUpperCase().toLowerCase();

/** Each label equal, ignoring case, to one before it in the list, named by its pointer. */
export function repeatedLabels(labels: string[], pointer = '/body/labels'): ProblemError[] {
  const first = new Map<string, number>();
  return labels.flatMap((label, index) => {
    const key = labelKey(label);
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, index);
    return earlier === undefined ? [] : [{ pointer: `${pointer}/${index}`, message: `repeats ${pointer}/${earlier} (labels are compared ignoring case)` }];
  });
}
