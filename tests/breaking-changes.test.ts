import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRelease, findBreakingChanges, newestRelease, type Rule } from '../src/contract/breaking-changes.js';

type Json = Record<string, any>;

/**
 * A small API in the shape of ours: a strict task body, a task response, a query parameter and
 * a bearer scheme. Each test edits a copy and looks at what the checker finds.
 */
function api(): Json {
  return {
    openapi: '3.0.3',
    info: { title: 'Tasks', version: '1.0.0' },
    security: [{ bearerAuth: [] }],
    paths: {
      '/tasks': {
        get: {
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } },
            { name: 'status', in: 'query', schema: { $ref: '#/components/schemas/Status' } },
            { name: 'X-Trace', in: 'header', schema: { type: 'string' } },
          ],
          responses: {
            '200': { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/TaskList' } } } },
            '401': { $ref: '#/components/responses/Unauthorized' },
          },
        },
        post: {
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/TaskCreate' } } } },
          responses: {
            '201': {
              description: 'created',
              headers: { Location: { schema: { type: 'string' } } },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Task' } } },
            },
            '401': { $ref: '#/components/responses/Unauthorized' },
          },
        },
      },
      '/tasks/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
        get: { responses: { '200': { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/Task' } } } } } },
        delete: { responses: { '204': { description: 'gone' } } },
      },
      '/healthz': { get: { security: [], responses: { '200': { description: 'ok' } } } },
    },
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      responses: {
        Unauthorized: { description: 'no', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
      },
      schemas: {
        Status: { type: 'string', enum: ['todo', 'in_progress', 'done'] },
        TaskCreate: {
          type: 'object',
          additionalProperties: false,
          required: ['title'],
          properties: {
            title: { type: 'string', minLength: 1, maxLength: 200 },
            description: { type: 'string', nullable: true, maxLength: 10000 },
            status: { $ref: '#/components/schemas/Status' },
          },
        },
        Task: {
          type: 'object',
          required: ['id', 'title', 'status', 'created_at'],
          properties: {
            id: { type: 'string', format: 'uuid', readOnly: true },
            title: { type: 'string' },
            status: { $ref: '#/components/schemas/Status' },
            created_at: { type: 'string', format: 'date-time', readOnly: true },
            tags: { type: 'array', items: { type: 'string' } },
          },
        },
        TaskList: {
          type: 'object',
          required: ['items', 'total'],
          properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Task' } }, total: { type: 'integer' } },
        },
        Problem: {
          type: 'object',
          required: ['type', 'status'],
          properties: { type: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' } },
        },
      },
    },
  };
}

/** The rules that fire when `edit` is applied to a copy of the API, with where. */
function changesAfter(edit: (spec: Json) => void) {
  const head = api();
  edit(head);
  return findBreakingChanges(api(), head).map(({ rule, location }) => `${rule} @ ${location}`);
}
const rulesAfter = (edit: (spec: Json) => void) => [...new Set(changesAfter(edit).map((change) => change.split(' @ ')[0] as Rule))];
const schemas = (spec: Json) => spec.components.schemas as Json;

describe('findBreakingChanges', () => {
  it('finds nothing between a spec and itself', () => {
    expect(findBreakingChanges(api(), api())).toEqual([]);
  });

  describe('breaking changes', () => {
    it('a removed path', () => {
      expect(changesAfter((s) => delete s.paths['/tasks/{id}'])).toEqual(['path-removed @ /tasks/{id}']);
    });

    it('a removed operation', () => {
      expect(changesAfter((s) => delete s.paths['/tasks/{id}'].delete)).toEqual(['operation-removed @ DELETE /tasks/{id}']);
    });

    it('a removed response field, wherever the schema is used (also inside arrays)', () => {
      expect(changesAfter((s) => delete schemas(s).Task.properties.tags)).toEqual([
        'property-removed @ GET /tasks 200 response (application/json) /items/[]/tags',
        'property-removed @ POST /tasks 201 response (application/json) /tags',
        'property-removed @ GET /tasks/{id} 200 response (application/json) /tags',
      ]);
    });

    it('a response field that was always there and may now be missing', () => {
      expect(rulesAfter((s) => (schemas(s).Task.required = ['id', 'status', 'created_at']))).toEqual(['property-optional']);
    });

    it('a removed field of an error body', () => {
      expect(rulesAfter((s) => delete schemas(s).Problem.properties.detail)).toEqual(['property-removed']);
    });

    it('a new required request field, and an optional one made required', () => {
      expect(
        changesAfter((s) => {
          schemas(s).TaskCreate.properties.project = { type: 'string' };
          schemas(s).TaskCreate.required = ['title', 'project', 'description'];
        }),
      ).toEqual([
        'property-required @ POST /tasks request body (application/json) /project',
        'property-required @ POST /tasks request body (application/json) /description',
      ]);
    });

    it('a new required parameter, and an optional parameter made required', () => {
      expect(
        changesAfter((s) => {
          s.paths['/tasks'].get.parameters[0].required = true;
          s.paths['/tasks'].get.parameters.push({ name: 'project', in: 'query', required: true, schema: { type: 'string' } });
        }),
      ).toEqual(['parameter-required @ GET /tasks query parameter limit', 'parameter-required @ GET /tasks query parameter project']);
    });

    it('a request body that becomes required', () => {
      expect(rulesAfter((s) => (s.paths['/tasks/{id}'].delete.requestBody = { required: true, content: { 'application/json': { schema: { type: 'object' } } } }))).toEqual([
        'request-body-required',
      ]);
    });

    it('a removed query parameter (unknown query parameters are refused)', () => {
      expect(changesAfter((s) => s.paths['/tasks'].get.parameters.splice(0, 1))).toEqual(['parameter-removed @ GET /tasks query parameter limit']);
    });

    it('a narrowed enum in a request: the body field and the query parameter that share it', () => {
      expect(changesAfter((s) => (schemas(s).Status.enum = ['todo', 'done']))).toEqual([
        'enum-narrowed @ GET /tasks query parameter status',
        'enum-narrowed @ POST /tasks request body (application/json) /status',
      ]);
    });

    it('a new enum value in a response: old clients have no branch for it', () => {
      expect(changesAfter((s) => (schemas(s).Status.enum = ['todo', 'in_progress', 'done', 'archived']))).toEqual([
        'enum-widened @ GET /tasks 200 response (application/json) /items/[]/status',
        'enum-widened @ POST /tasks 201 response (application/json) /status',
        'enum-widened @ GET /tasks/{id} 200 response (application/json) /status',
      ]);
    });

    it('a changed field type, in a response and in a request', () => {
      expect(rulesAfter((s) => (schemas(s).Task.properties.title = { type: 'integer' }))).toEqual(['type-changed']);
      expect(changesAfter((s) => (schemas(s).TaskCreate.properties.title = { type: 'array', items: { type: 'string' } }))).toEqual([
        'type-changed @ POST /tasks request body (application/json) /title',
      ]);
    });

    it('null no longer accepted in a request, or possible in a response', () => {
      expect(rulesAfter((s) => delete schemas(s).TaskCreate.properties.description.nullable)).toEqual(['nullable-changed']);
      expect(rulesAfter((s) => (schemas(s).Task.properties.title.nullable = true))).toEqual(['nullable-changed']);
    });

    it('narrower bounds, a new pattern or a new format on request values', () => {
      expect(rulesAfter((s) => (schemas(s).TaskCreate.properties.title.maxLength = 100))).toEqual(['constraint-narrowed']);
      expect(rulesAfter((s) => (s.paths['/tasks'].get.parameters[0].schema.minimum = 5))).toEqual(['constraint-narrowed']);
      expect(rulesAfter((s) => (schemas(s).TaskCreate.properties.title.pattern = '^\\S'))).toEqual(['pattern-changed']);
      expect(rulesAfter((s) => (schemas(s).TaskCreate.properties.title.format = 'email'))).toEqual(['format-changed']);
    });

    it('a removed field of a strict request body, and a body that starts refusing unknown fields', () => {
      expect(rulesAfter((s) => delete schemas(s).TaskCreate.properties.description)).toEqual(['property-removed']);
      expect(
        rulesAfter((s) => {
          s.paths['/tasks/{id}'].delete.requestBody = { content: { 'application/json': { schema: { type: 'object', additionalProperties: false } } } };
        }),
      ).toEqual([]); // new optional body: fine
    });

    it('a removed success status, media type or response header', () => {
      expect(
        changesAfter((s) => {
          s.paths['/tasks/{id}'].delete.responses = { '200': { description: 'gone' } };
          delete s.paths['/tasks'].post.responses['201'].headers.Location;
          s.paths['/tasks/{id}'].get.responses['200'].content = { 'application/vnd.tasks+json': s.paths['/tasks/{id}'].get.responses['200'].content['application/json'] };
        }),
      ).toEqual([
        'response-header-removed @ POST /tasks 201 response header Location',
        'media-type-removed @ GET /tasks/{id} 200 response (application/json)',
        'response-status-removed @ DELETE /tasks/{id} 204 response',
      ]);
    });

    it('credentials required where none were, or a different scheme', () => {
      expect(changesAfter((s) => delete s.paths['/healthz'].get.security)).toEqual(['security-changed @ GET /healthz security']);
      expect(rulesAfter((s) => (s.components.securitySchemes.bearerAuth = { type: 'apiKey', in: 'header', name: 'X-Key' }))).toEqual(['security-changed']);
    });
  });

  describe('not breaking', () => {
    it('new operations, paths, optional fields and parameters, and new response fields', () => {
      expect(
        changesAfter((s) => {
          s.paths['/tasks/{id}'].put = { responses: { '200': { description: 'ok' } } };
          s.paths['/projects'] = { get: { responses: { '200': { description: 'ok' } } } };
          schemas(s).TaskCreate.properties.due = { type: 'string', format: 'date' };
          schemas(s).Task.properties.due = { type: 'string', format: 'date' };
          schemas(s).Task.required.push('due');
          s.paths['/tasks'].get.parameters.push({ name: 'q', in: 'query', schema: { type: 'string' } });
          s.paths['/tasks'].get.responses['503'] = { $ref: '#/components/responses/Unauthorized' };
        }),
      ).toEqual([]);
    });

    it('widened requests: a new enum value, looser bounds, integer to number, null accepted, fewer required fields', () => {
      expect(
        changesAfter((s) => {
          schemas(s).Status.enum = ['todo', 'in_progress', 'done'];
          s.paths['/tasks'].get.parameters[1].schema = { type: 'string', enum: ['todo', 'in_progress', 'done', 'blocked'] };
          schemas(s).TaskCreate.properties.title.maxLength = 500;
          s.paths['/tasks'].get.parameters[0].schema = { type: 'number', minimum: 0 };
          schemas(s).TaskCreate.properties.status = { $ref: '#/components/schemas/Status', nullable: true };
          schemas(s).TaskCreate.required = [];
        }),
      ).toEqual([]);
    });

    it('a response enum that lost a value: old clients just never see it again', () => {
      expect(
        changesAfter((s) => {
          schemas(s).Task.properties.status = { type: 'string', enum: ['todo', 'done'] };
          schemas(s).TaskList.properties.items.items = { $ref: '#/components/schemas/Task' };
        }),
      ).toEqual([]);
    });

    it('a renamed path parameter, a removed optional header parameter, a dropped error status, readOnly fields in requests', () => {
      expect(
        changesAfter((s) => {
          s.paths['/tasks/{taskId}'] = s.paths['/tasks/{id}'];
          delete s.paths['/tasks/{id}'];
          s.paths['/tasks/{taskId}'].parameters[0].name = 'taskId';
          s.paths['/tasks'].get.parameters.splice(2, 1);
          delete s.paths['/tasks'].get.responses['401'];
          schemas(s).TaskCreate.properties.id = { type: 'string', readOnly: true };
          schemas(s).TaskCreate.required.push('id');
        }),
      ).toEqual([]);
    });

    it('descriptions, examples and allOf refactoring', () => {
      expect(
        changesAfter((s) => {
          schemas(s).Task = {
            description: 'A task.',
            allOf: [
              { type: 'object', required: ['id', 'created_at'], properties: { id: schemas(s).Task.properties.id, created_at: schemas(s).Task.properties.created_at } },
              {
                type: 'object',
                required: ['title', 'status'],
                properties: { title: { type: 'string', example: 'x' }, status: { $ref: '#/components/schemas/Status' }, tags: schemas(s).Task.properties.tags },
              },
            ],
          };
        }),
      ).toEqual([]);
    });
  });

  it('terminates on recursive schemas', () => {
    const recursive = () => {
      const s = api();
      schemas(s).Task.properties.subtasks = { type: 'array', items: { $ref: '#/components/schemas/Task' } };
      return s;
    };
    const head = recursive();
    delete schemas(head).Task.properties.tags;
    expect(findBreakingChanges(recursive(), head).length).toBeGreaterThan(0);
  });
});

describe('checkRelease', () => {
  const breaking = (version: string) => {
    const head = api();
    head.info.version = version;
    delete head.paths['/tasks/{id}'];
    return head;
  };

  it('fails a breaking change under the same major version', () => {
    for (const version of ['1.0.0', '1.0.1', '1.5.0']) {
      const result = checkRelease(api(), breaking(version));
      expect(result, version).toMatchObject({ ok: false, majorBumped: false });
      expect(result.changes.map((c) => c.rule)).toEqual(['path-removed']);
    }
  });

  it('lets a breaking change through when the major part moved', () => {
    expect(checkRelease(api(), breaking('2.0.0'))).toMatchObject({ ok: true, majorBumped: true, baseVersion: '1.0.0', headVersion: '2.0.0' });
  });

  it('refuses a version older than the released one, or not MAJOR.MINOR.PATCH', () => {
    const older = api();
    older.info.version = '0.9.0';
    expect(checkRelease(api(), older)).toMatchObject({ ok: false, problems: ['info.version 0.9.0 is older than the released 1.0.0'] });
    const odd = api();
    odd.info.version = 'v1';
    expect(checkRelease(api(), odd).ok).toBe(false);
  });

  it('picks the newest released file', () => {
    expect(newestRelease(['1.0.0.json', '1.10.0.json', '1.9.3.json', 'README.md', '2.0.0-rc.1.json'])).toBe('1.10.0.json');
    expect(newestRelease([])).toBeUndefined();
  });
});

describe('openapi.yaml against the released spec (make breaking)', () => {
  const out = mkdtempSync(join(tmpdir(), 'breaking-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const bundle = () => {
    const file = join(out, 'openapi.json');
    execFileSync('node_modules/.bin/redocly', ['bundle', 'openapi/openapi.yaml', '-o', file], {
      stdio: 'pipe',
      env: { ...process.env, REDOCLY_TELEMETRY: 'off' },
    });
    return file;
  };
  const cli = (current: string) => {
    try {
      return { code: 0, output: execFileSync('node_modules/.bin/tsx', ['src/cli/breaking-changes.ts', 'openapi/released', current], { stdio: 'pipe' }).toString() };
    } catch (error) {
      const { status, stdout, stderr } = error as { status: number; stdout: Buffer; stderr: Buffer };
      return { code: status, output: `${stdout}${stderr}` };
    }
  };

  it('has a released spec to compare with', () => {
    expect(newestRelease(readdirSync('openapi/released'))).toMatch(/^\d+\.\d+\.\d+\.json$/);
  });

  it('breaks no client of the last release', () => {
    const released = JSON.parse(readFileSync(join('openapi/released', newestRelease(readdirSync('openapi/released'))!), 'utf8'));
    const current = JSON.parse(readFileSync(bundle(), 'utf8'));
    const result = checkRelease(released, current);
    expect(result.problems).toEqual([]);
    if (!result.majorBumped) expect(result.changes).toEqual([]);
  });

  it('the command exits 0 on the current spec and 1, naming the change, on a breaking one', () => {
    const current = bundle();
    expect(cli(current).code).toBe(0);
    const spec = JSON.parse(readFileSync(current, 'utf8'));
    delete spec.paths['/tasks/{id}'].delete;
    writeFileSync(current, JSON.stringify(spec));
    const { code, output } = cli(current);
    expect(code).toBe(1);
    expect(output).toContain('DELETE /tasks/{id}: the operation DELETE /tasks/{id} is gone [operation-removed]');
  });
});
