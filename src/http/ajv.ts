import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

// ajv-formats' uuid also takes a `urn:uuid:` prefix, which PostgreSQL's uuid type refuses (a 500).
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** OpenAPI 3.0 schemas as openapi-backend and our response checks read them: formats really checked. */
export function withFormats<T extends Ajv>(ajv: T): T {
  addFormats(ajv, ['email', 'date-time', 'uri-reference']);
  ajv.addFormat('uuid', UUID);
  return ajv;
}

export const createAjv = (opts: Options = {}) =>
  withFormats(new Ajv({ strict: false, allErrors: true, ...opts }));
