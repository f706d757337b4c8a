import fc from 'fast-check';

/** The subset of OpenAPI 3.0 schema that our spec uses. */
export interface Schema {
  $ref?: string;
  type?: 'object' | 'string' | 'integer' | 'boolean' | 'array' | 'number';
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  nullable?: boolean;
  minProperties?: number;
  items?: Schema;
  maxItems?: number;
  uniqueItems?: boolean;
}

export type Resolve = (schema: Schema) => Schema;

function validString(schema: Schema): fc.Arbitrary<string> {
  if (schema.enum) return fc.constantFrom(...(schema.enum as string[]));
  if (schema.format === 'email') return fc.emailAddress().filter((e) => e.length <= (schema.maxLength ?? 254));
  if (schema.format === 'uuid') return fc.uuid();
  if (schema.format === 'date-time') {
    const instant = fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
    // Now and then with an offset instead of Z, which the API takes too.
    return fc.tuple(instant, fc.boolean()).map(([date, z]) => (z ? date.toISOString() : date.toISOString().replace('Z', '+00:00')));
  }
  const pattern = schema.pattern ? new RegExp(schema.pattern, 'u') : undefined;
  return fc
    .string({ unit: 'grapheme', minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) })
    .filter((s) => [...s].length >= (schema.minLength ?? 0) && (!pattern || pattern.test(s)));
}

/** Values that the schema accepts. */
export function valid(schema: Schema, resolve: Resolve): fc.Arbitrary<unknown> {
  const s = resolve(schema);
  const value = ((): fc.Arbitrary<unknown> => {
    switch (s.type) {
      case 'object': {
        const entries = Object.entries(s.properties ?? {}).map(([k, v]) => [k, valid(v, resolve)] as const);
        const record = fc.record(Object.fromEntries(entries), { requiredKeys: s.required ?? [] });
        return s.minProperties ? record.filter((o) => Object.keys(o).length >= s.minProperties!) : record;
      }
      case 'string':
        return validString(s);
      case 'integer':
        return fc.integer({ min: s.minimum ?? -1000, max: Math.min(s.maximum ?? 1000, 1000) });
      case 'boolean':
        return fc.boolean();
      case 'array': {
        const items = valid(s.items ?? {}, resolve);
        const maxLength = Math.min(s.maxItems ?? 5, 5);
        return s.uniqueItems ? fc.uniqueArray(items, { maxLength }) : fc.array(items, { maxLength });
      }
      default:
        return fc.jsonValue();
    }
  })();
  return s.nullable ? fc.option(value, { nil: null }) : value;
}

/** Values that break the schema in one of the ways clients get it wrong. */
export function invalid(schema: Schema, resolve: Resolve): fc.Arbitrary<unknown> {
  const s = resolve(schema);
  const hostile = fc.oneof(
    fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
    fc.constant('\u0000'),
    fc.constant('9'.repeat(40)),
    fc.constant(2 ** 64),
    fc.constant(JSON.parse(`${'['.repeat(2000)}${']'.repeat(2000)}`) as unknown),
  );
  if (s.type !== 'object') return hostile;
  const good = valid(s, resolve) as fc.Arbitrary<Record<string, unknown>>;
  const names = Object.keys(s.properties ?? {});
  return fc.oneof(
    hostile,
    good.map((o) => ({ ...o, id: '00000000-0000-0000-0000-000000000000', role: 'admin', owner_id: 'x' })),
    ...(s.required?.length ? [good.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => !s.required!.includes(k))))] : []),
    ...(names.length
      ? [fc.tuple(good, fc.constantFrom(...names), hostile).map(([o, k, v]) => ({ ...o, [k]: v }))]
      : []),
  );
}
