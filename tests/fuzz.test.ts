import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import spec from '../generated/openapi.json' with { type: 'json' };
import { ok } from '../src/client/index.js';
import { invalid, valid, type Resolve, type Schema } from './support/arbitraries.js';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

// Garbage in by design: no proxy, and no per-address limit in the way.
const server = useServer({ AUTH_RATE_LIMIT: '0' }, { direct: true });

interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header';
  schema: Schema;
}
interface Operation {
  method: string;
  path: string;
  operationId: string;
  parameters: Parameter[];
  body?: Schema;
}

const resolve: Resolve = (schema) =>
  schema.$ref ? resolve(schema.$ref.split('/').slice(1).reduce<any>((node, key) => node[key], spec)) : schema;
const resolveParameter = (p: { $ref?: string } & Partial<Parameter>): Parameter =>
  (p.$ref ? resolve(p as Schema) : p) as Parameter;

const operations: Operation[] = Object.entries(spec.paths).flatMap(([path, item]) =>
  Object.entries(item as Record<string, any>)
    .filter(([, op]) => op?.operationId)
    .map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      operationId: op.operationId,
      parameters: [...((item as any).parameters ?? []), ...(op.parameters ?? [])].map(resolveParameter),
      body: op.requestBody?.content?.['application/json']?.schema,
    })),
);

/** A digest of everything a request could change, except the rate-limit counters every auth request touches. */
async function dataDigest(): Promise<string> {
  // Not mail_outbox: the mail worker changes it on its own time, whatever the request was.
  const tables = ['users', 'sessions', 'refresh_tokens', 'tasks', 'idempotency_keys', 'account_tokens'];
  const rows = await Promise.all(
    tables.map((t) => server().knex.raw(`select md5(coalesce(string_agg(x::text, ',' order by x::text), '')) as d from ${t} x`)),
  );
  return rows.map((r) => r.rows[0].d).join(':');
}

/** Values a client could have got from the server, by parameter name, mixed in with the generated ones. */
type Fixtures = Record<string, string[]>;

function requestFor(op: Operation, ids: { task: string; user: string }, fixtures: Fixtures) {
  const encoded = fc.oneof(fc.constantFrom(ids.task, ids.user), fc.uuid(), fc.string({ maxLength: 40 })).map(encodeURIComponent);
  // Sent as they are: percent-escapes that do not decode.
  const malformed = fc.constantFrom('%', '%zz', '%E0%A4%A', '%uD800');
  const pathValue = fc.oneof({ arbitrary: encoded, weight: 9 }, { arbitrary: malformed, weight: 1 });
  const known = (name: string) => (fixtures[name] ? [{ arbitrary: fc.constantFrom(...fixtures[name]), weight: 3 }] : []);
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const query = fc.record(
    Object.fromEntries(
      queryParams.map((p) => [p.name, fc.oneof(valid(p.schema, resolve), fc.string(), fc.array(fc.string(), { minLength: 2, maxLength: 2 }), ...known(p.name))]),
    ),
    { requiredKeys: [] },
  );
  // Header values from the fixtures or printable ASCII (fetch refuses to send anything else).
  const headerParams = op.parameters.filter((p) => p.in === 'header');
  const headers = fc.record(Object.fromEntries(headerParams.map((p) => [p.name, fc.oneof(fc.string({ maxLength: 20 }), ...known(p.name))])), {
    requiredKeys: [],
  });
  const body = op.body ? fc.oneof(valid(op.body, resolve), invalid(op.body, resolve)) : fc.constant(undefined);
  return fc.record({ id: pathValue, query, headers, body, asAdmin: fc.boolean() });
}

describe('property-based fuzzing of every operation', () => {
  it.each(operations.map((op) => [op.operationId, op] as const))('%s: no 5xx, every response matches the spec, a 4xx changes nothing', async (_id, op) => {
    const admin = await signUp(server(), { role: 'admin' });
    const user = await signUp(server());
    const task = await ok(user.client.POST('/tasks', { body: { title: 'fuzz target' } }));
    await ok(user.client.POST('/tasks', { body: { title: 'another fuzz target' } }));
    const ids = { task: task.id, user: user.id };
    const etag = (await user.client.GET('/tasks/{id}', { params: { path: { id: task.id } } })).response.headers.get('etag')!;
    const cursors = [
      (await ok(user.client.GET('/tasks', { params: { query: { limit: 1 } } }))).next_cursor!,
      (await ok(admin.client.GET('/tasks', { params: { query: { limit: 1, sort: 'title' } } }))).next_cursor!,
      (await ok(admin.client.GET('/users', { params: { query: { limit: 1 } } }))).next_cursor!,
    ];
    const position = (await ok(user.client.GET('/tasks/changes', { params: { query: { limit: 1 } } }))).next_since;
    const fixtures: Fixtures = {
      cursor: [...cursors, `${cursors[0]!.slice(0, -1)}A`],
      since: [position, `${position.slice(0, -1)}A`],
      'Last-Event-ID': [position],
      'If-Match': [etag, `W/${etag}`, '*'],
      'If-None-Match': [etag, `W/${etag}`, '*', `"1", ${etag}`],
      // One key used again and again (replays, and 422 for other bodies), a long one, and a fresh one.
      'Idempotency-Key': ['fuzz-key', '"fuzz-key"', 'k'.repeat(255), randomUUID()],
    };

    await fc.assert(
      fc.asyncProperty(requestFor(op, ids, fixtures), async (input) => {
        const url = new URL(`${server().baseUrl}${op.path.replace('{id}', input.id)}`);
        for (const [name, value] of Object.entries(input.query)) {
          for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, typeof v === 'string' ? v : JSON.stringify(v));
        }
        const headers: Record<string, string> = {
          ...input.headers,
          Authorization: `Bearer ${(input.asAdmin ? admin : user).client.tokens!.access_token}`,
        };
        if (input.body !== undefined) headers['Content-Type'] = 'application/json';
        const before = await dataDigest();
        const res = await server().fetch(url.pathname + url.search, {
          method: op.method,
          headers,
          body: input.body === undefined ? undefined : JSON.stringify(input.body),
        });
        // An event stream never ends: its status and headers are the whole answer to check.
        if (res.headers.get('content-type')?.startsWith('text/event-stream')) await res.body?.cancel();
        else await res.arrayBuffer();
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(await dataDigest()).toBe(before);
        expect(server().violations).toEqual([]);
      }),
      { numRuns: 25, seed: 20261124 },
    );
  });
});
