import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { instantOf } from './date-time.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

// ajv-formats' uuid also takes a `urn:uuid:` prefix, which PostgreSQL's uuid type refuses (a 500).
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** OpenAPI 3.0 schemas as openapi-backend and our response checks read them: formats really checked. */
export function withFormats<T extends Ajv>(ajv: T): T {
  addFormats(ajv, ['email', 'date-time', 'uri-reference']);
  ajv.addFormat('uuid', UUID);
  // ajv-formats checks the calendar and the clock; the range is ours (src/http/date-time.ts).
  const rfc3339 = ajv.formats['date-time'] as { validate: (text: string) => boolean };
  ajv.addFormat('date-time', { type: 'string', validate: (text: string) => rfc3339.validate(text) && instantOf(text) !== undefined });
  return ajv;
}

export const createAjv = (opts: Options = {}) =>
  withFormats(new Ajv({ strict: false, allErrors: true, ...opts }));
