import { describe, expect, it } from 'vitest';
import type { OpenAPIV3 } from 'openapi-types';
import spec from '../generated/openapi.json' with { type: 'json' };
import { createResponseValidator } from '../src/http/response-validator.js';

// One operation whose 201 always carries ETag and Retry-After, and Replayed only sometimes.
const definition = {
  openapi: '3.0.3',
  info: { title: 't', version: '1.0.0' },
  paths: {
    '/things': {
      post: {
        operationId: 'createThing',
        responses: {
          '201': {
            description: 'created',
            headers: {
              ETag: { required: true, schema: { type: 'string' } },
              'Retry-After': { required: true, schema: { type: 'integer', minimum: 1 } },
              Replayed: { required: false, schema: { type: 'string', enum: ['true'] } },
            },
          },
        },
      },
    },
  },
  components: { schemas: { Problem: { type: 'object' } } },
} as unknown as OpenAPIV3.Document;

const check = createResponseValidator(definition);
const sent = (headers: Record<string, unknown>) =>
  check('createThing', { reply: { status: 201 }, contentType: 'application/json', headers: { 'x-request-id': 'r', ...headers } });

describe('the response checks on headers', () => {
  it('pass a response with every required header and without the optional one', () => {
    expect(sent({ etag: '"1"', 'retry-after': 60 })).toEqual([]);
  });

  it('fail a response without a header marked required: true', () => {
    expect(sent({ 'retry-after': '60' })).toEqual(['createThing 201: missing header ETag']);
  });

  it('check an optional header when it is sent', () => {
    expect(sent({ etag: '"1"', 'retry-after': '60', replayed: 'true' })).toEqual([]);
    expect(sent({ etag: '"1"', 'retry-after': '60', replayed: 'yes' })).toEqual(['createThing 201: header Replayed must be equal to one of the allowed values']);
  });

  it('read header values as the text they are on the wire', () => {
    expect(sent({ etag: '"1"', 'retry-after': '0' })).toEqual(['createThing 201: header Retry-After must be >= 1']);
  });
});

describe('openapi.yaml', () => {
  it('says of every response header whether it is always sent (required: true or false)', () => {
    type Node = { $ref?: string; required?: unknown; headers?: Record<string, Node>; responses?: Record<string, Node> };
    const deref = (node: Node): Node => (node.$ref ? deref(node.$ref.slice(2).split('/').reduce<any>((n, k) => n[k], spec)) : node);
    const operations = Object.values(spec.paths).flatMap((item) => Object.values(item as Record<string, Node>));
    const unspecified = operations.flatMap((op) =>
      Object.entries(op.responses ?? {}).flatMap(([status, response]) =>
        Object.entries(deref(response).headers ?? {})
          .filter(([, header]) => typeof deref(header).required !== 'boolean')
          .map(([name]) => `${status} ${name}`),
      ),
    );
    expect(unspecified).toEqual([]);
  });
});
