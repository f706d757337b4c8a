import type { ValidateFunction } from 'ajv';
import type { OpenAPIV3 } from 'openapi-types';
import { createAjv } from './ajv.js';
import type { Sent } from './send.js';

type Responses = Record<string, OpenAPIV3.ResponseObject>;

/**
 * Checks every reply against the (dereferenced) spec: the status must be documented for the
 * operation, and the body must match that response's schema for its media type. openapi-backend's
 * own check skips application/problem+json, which is why this exists.
 */
export function createResponseValidator(definition: OpenAPIV3.Document) {
  const ajv = createAjv();
  const compiled = new Map<object, ValidateFunction>();
  const compile = (schema: object) => {
    let validate = compiled.get(schema);
    if (!validate) {
      validate = ajv.compile(schema);
      compiled.set(schema, validate);
    }
    return validate;
  };
  const problemSchema = definition.components?.schemas?.Problem as object;

  const responsesOf = new Map<string, Responses>();
  for (const item of Object.values(definition.paths ?? {})) {
    for (const operation of Object.values(item ?? {})) {
      if (operation && typeof operation === 'object' && 'operationId' in operation && operation.operationId) {
        responsesOf.set(operation.operationId, operation.responses as Responses);
      }
    }
  }

  /** The violations found; empty when the reply matches the spec. */
  return function check(operationId: string | undefined, { reply, contentType, headers }: Sent): string[] {
    const where = `${operationId ?? '(no operation)'} ${reply.status}`;
    if (headers['x-request-id'] === undefined) return [`${where}: no X-Request-Id`];
    // Nothing a client sends may cause a 500; only 503 (database down) is an expected server error.
    if (reply.status >= 500 && reply.status !== 503) return [`${where}: server error`];
    if (!operationId) {
      const ok = reply.body === undefined || compile(problemSchema)(reply.body);
      return ok ? [] : [`${where}: body is not a Problem`];
    }
    const response = responsesOf.get(operationId)?.[String(reply.status)];
    if (!response) return [`${where}: status is not documented`];
    // Our convention: a header the spec documents for a response is always sent with it.
    const missing = Object.keys(response.headers ?? {}).filter((name) => headers[name.toLowerCase()] === undefined);
    if (missing.length > 0) return [`${where}: missing header ${missing.join(', ')}`];
    const mediaType = contentType.split(';')[0]!.trim();
    if (!response.content) return reply.body === undefined ? [] : [`${where}: documented without a body`];
    const media = response.content[mediaType];
    if (!media) return [`${where}: media type ${mediaType} is not documented`];
    if (!media.schema) return [];
    const validate = compile(media.schema);
    // Pre-serialised JSON (the spec document itself) is checked as what the client will parse.
    const body = typeof reply.body === 'string' && mediaType.endsWith('json') ? JSON.parse(reply.body) : reply.body;
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `${where}: body${e.instancePath} ${e.message}`);
  };
}
