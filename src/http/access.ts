import type { Operation } from 'openapi-backend';
import type { OpenAPIV3 } from 'openapi-types';
import type { Caller } from './operations.js';
import { AppError, problems } from './problem.js';

type WithRoles = { 'x-roles'?: Caller['role'][] };

const allows = (roles: Caller['role'][] | undefined, caller: Caller) => !roles || roles.includes(caller.role);

/**
 * The spec's role rules, applied once for every operation: `x-roles` on an operation limits who
 * may call it; `x-roles` on a query parameter limits who may send that parameter.
 */
export function checkRoles(spec: Operation, query: Record<string, unknown>, caller: Caller): void {
  const operation = spec as OpenAPIV3.OperationObject & WithRoles;
  if (!allows(operation['x-roles'], caller)) {
    throw problems.forbidden(`This operation needs the ${operation['x-roles']!.join(' or ')} role.`);
  }
  for (const parameter of (operation.parameters ?? []) as (OpenAPIV3.ParameterObject & WithRoles)[]) {
    if (parameter.in === 'query' && parameter.name in query && !allows(parameter['x-roles'], caller)) {
      throw problems.forbidden(`The ${parameter.name} parameter needs the ${parameter['x-roles']!.join(' or ')} role.`);
    }
  }
}

/** A body is accepted only as JSON, and only where the spec takes one. */
export function checkMediaType(operation: Operation, headers: Record<string, unknown>, hasBody: boolean): void {
  if (!hasBody || !operation.requestBody) return;
  const contentType = String(headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/json') {
    throw new AppError(415, 'unsupported-media-type', 'Send the body as application/json.');
  }
}
