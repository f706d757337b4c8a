import type { ValidateFunction } from 'ajv';
import type { OpenAPIV3 } from 'openapi-types';
import { createAjv } from './ajv.js';
import type { Sent } from './send.js';

type Responses = Record<string, OpenAPIV3.ResponseObject>;
type Headers = Record<string, OpenAPIV3.HeaderObject>;

/**
 * Checks every reply against the (dereferenced) spec: the status must be documented for the
 * operation, its headers must be there and match, and the body must match that response's schema
 * for its media type. openapi-backend's own check skips application/problem+json, which is why
 * this exists.
 *
 * Headers: one marked `required: true` must be sent with every such response; any other
 * documented header (`Idempotent-Replayed`, sent on replays only) is checked when it is sent.
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
  // Header values are text on the wire: `Retry-After: 60` is the integer its schema describes.
  // Wrapped in an object, so that coercion has a property to work on.
  const headerAjv = createAjv({ coerceTypes: true });
  const headerValidators = new Map<object, ValidateFunction>();
  const headerValidator = (header: OpenAPIV3.HeaderObject) => {
    let validate = headerValidators.get(header);
    if (!validate) {
      validate = headerAjv.compile({ type: 'object', properties: { value: header.schema ?? {} } });
      headerValidators.set(header, validate);
    }
    return validate;
  };

  function headerViolations(where: string, documented: Headers, sent: Record<string, unknown>): string[] {
    const violations: string[] = [];
    for (const [name, header] of Object.entries(documented)) {
      const value = sent[name.toLowerCase()];
      if (value === undefined) {
        if (header.required) violations.push(`${where}: missing header ${name}`);
        continue;
      }
      const validate = headerValidator(header);
      if (!validate({ value: String(value) })) {
        violations.push(...(validate.errors ?? []).map((e) => `${where}: header ${name} ${e.message}`));
      }
    }
    return violations;
  }
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
    const wrongHeaders = headerViolations(where, (response.headers ?? {}) as Headers, headers);
    if (wrongHeaders.length > 0) return wrongHeaders;
    const mediaType = contentType.split(';')[0]!.trim();
    if (!response.content) return reply.body === undefined ? [] : [`${where}: documented without a body`];
    const media = response.content[mediaType];
    if (!media) return [`${where}: media type ${mediaType} is not documented`];
    if (!media.schema) return [];
    // A stream's body is written over time, after this check.
    if (reply.stream) return [];
    const validate = compile(media.schema);
    // Pre-serialised JSON (the spec document itself) is checked as what the client will parse.
    const body = typeof reply.body === 'string' && mediaType.endsWith('json') ? JSON.parse(reply.body) : reply.body;
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `${where}: body${e.instancePath} ${e.message}`);
  };
}
