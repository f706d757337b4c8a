import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** OpenAPI 3.0 schemas as openapi-backend and our response checks read them: formats really checked. */
export function withFormats<T extends Ajv>(ajv: T): T {
  addFormats(ajv, ['uuid', 'email', 'date-time', 'uri-reference']);
  return ajv;
}

export const createAjv = (opts: Options = {}) =>
  withFormats(new Ajv({ strict: false, allErrors: true, ...opts }));
