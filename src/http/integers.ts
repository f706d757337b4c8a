import type { Operation } from 'openapi-backend';
import type { OpenAPIV3 } from 'openapi-types';
import type { ProblemError } from './problem.js';

// ajv coerces a parameter with JavaScript's Number rules, so `0x10`, `1e1`, ` 5`, `+5` and `-0`
// would pass as integers; parameters are text, and only one spelling of each integer is taken.
const DECIMAL = /^(0|-?[1-9][0-9]*)$/;

type Location = 'query' | 'path' | 'header';
type Parameter = { in: Location; name: string; pointer: string };

/**
 * A check of every integer parameter the spec declares (query, path, header) against its text as
 * sent, found once at start-up and run per request before ajv coerces the values.
 */
export function decimalIntegers(operations: Operation[]) {
  const byOperation = new Map<string, Parameter[]>();
  for (const operation of operations) {
    const integers = ((operation.parameters ?? []) as OpenAPIV3.ParameterObject[])
      .filter((p) => ['query', 'path', 'header'].includes(p.in) && (p.schema as OpenAPIV3.SchemaObject | undefined)?.type === 'integer')
      // openapi-backend hands headers over with lower-case names.
      .map((p) => ({ in: p.in as Location, name: p.in === 'header' ? p.name.toLowerCase() : p.name, pointer: `/${p.in}/${p.name}` }));
    if (integers.length > 0) byOperation.set(operation.operationId!, integers);
  }
  return (operation: Operation, values: Record<Location, Record<string, unknown>>): ProblemError[] =>
    (byOperation.get(operation.operationId!) ?? [])
      .filter((p) => {
        const value = values[p.in][p.name];
        return typeof value === 'string' && !DECIMAL.test(value);
      })
      .map((p) => ({ pointer: p.pointer, message: 'must be written in plain decimal digits' }));
}
