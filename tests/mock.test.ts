// `make mock`: Prism serving openapi.yaml's examples, as a frontend team uses it before (or
// instead of) a running server.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokens } from '../src/auth/tokens.js';
import { createTaskClient, subscribe, sync, walk } from '../src/client/index.js';
import { freePort } from './support/conformance-proxy.js';

type Json = Record<string, any>;
const spec = JSON.parse(readFileSync('generated/openapi.json', 'utf8')) as Json;
const deref = (node: Json): Json => (node.$ref ? deref(node.$ref.slice(2).split('/').reduce((n: Json, k: string) => n[k], spec)) : node);
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const operations = Object.entries(spec.paths as Json).flatMap(([path, item]) =>
  METHODS.filter((method) => item[method]).map((method) => ({ path, method, item: item as Json, op: item[method] as Json })),
);
const example = (path: string, method: string, status: string, mediaType = 'application/json') =>
  deref(spec.paths[path][method].responses[status]).content[mediaType].example;

const TOKEN = 'Bearer any-token-will-do';
let prism: ChildProcess | undefined;
let baseUrl = '';

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  // The binary itself (npx would leave a child behind), in its own process group.
  prism = spawn('node_modules/.bin/prism', ['mock', 'openapi/openapi.yaml', '--host', '127.0.0.1', '--port', String(port), '-v', 'error'], {
    stdio: 'ignore',
    detached: true,
  });
  for (let i = 0; i < 150; i++) {
    if (await fetch(`${baseUrl}/healthz`).then((r) => r.ok, () => false)) return;
    if (prism.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`prism mock did not answer on ${baseUrl} within 15 s`);
});

afterAll(() => {
  if (!prism?.pid) return;
  for (const target of [-prism.pid, prism.pid]) {
    try {
      process.kill(target, 'SIGTERM'); // the process group, then the process itself
    } catch {
      // already gone
    }
  }
});

describe('the mock server (make mock)', () => {
  it('lets a frontend log in, list, create, and see validation and auth errors through the typed client', async () => {
    const client = createTaskClient({ baseUrl });

    const tokens = await client.login('ada@example.com', 'correct-horse-battery');
    expect(tokens).toEqual(example('/auth/login', 'post', '200'));
    expect(client.tokens?.access_token).toMatch(/^eyJ/);

    const list = await client.GET('/tasks', { params: { query: { limit: 20 } } });
    expect(list.response.status).toBe(200);
    expect(list.data).toEqual(example('/tasks', 'get', '200'));
    expect(list.data?.items[0]?.title).toBe('Write the quarterly report');

    const created = await client.POST('/tasks', { body: { title: 'Buy milk' } });
    expect(created.response.status).toBe(201);
    expect(created.data).toEqual(example('/tasks', 'post', '201'));
    expect(created.response.headers.get('Location')).toBe('/tasks/9b2f6f7e-0c55-4d38-9a36-2f4c3c5e8d11');

    // An invalid body: Prism answers with the spec's own 422 example, and names the real
    // violation in its sl-violations header.
    const invalid = await client.POST('/tasks', { body: { title: '' } });
    expect(invalid.response.status).toBe(422);
    expect(invalid.response.headers.get('Content-Type')).toMatch(/^application\/problem\+json/);
    expect(invalid.error).toMatchObject({ type: '/problems/validation-error', status: 422 });
    expect(JSON.parse(invalid.response.headers.get('sl-violations')!)).toContainEqual(
      expect.objectContaining({ location: ['request', 'body', 'title'], code: 'minLength' }),
    );

    const anonymous = createTaskClient({ baseUrl });
    const refused = await anonymous.GET('/tasks');
    expect(refused.response.status).toBe(401);
    expect(refused.response.headers.get('WWW-Authenticate')).toBe('Bearer');
    expect(refused.error).toEqual(example('/tasks', 'get', '401', 'application/problem+json'));
  });

  it("lets a frontend list the caller's sessions and end one through the typed client", async () => {
    const client = createTaskClient({ baseUrl, tokens: example('/auth/login', 'post', '200') });
    const sessions = await client.listSessions();
    expect(sessions).toEqual(example('/auth/sessions', 'get', '200').items);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    await expect(client.endSession(sessions.find((s) => !s.current)!.id)).resolves.toBeUndefined();
    const unknown = await client.DELETE('/auth/sessions/{id}', { params: { path: { id: 'not-a-uuid' } } });
    expect(unknown.response.status).toBe(422);
  });

  it('lets a frontend build password reset and e-mail verification on the typed client', async () => {
    const anonymous = createTaskClient({ baseUrl });
    const { token, new_password } = deref(spec.paths['/auth/password-reset/confirm'].post.requestBody).content['application/json'].example;
    await expect(anonymous.requestPasswordReset('ada@example.com')).resolves.toBeUndefined();
    await expect(anonymous.confirmPasswordReset(token, new_password)).resolves.toBeUndefined();
    await expect(anonymous.verifyEmail(token)).resolves.toBeUndefined();
    await expect(anonymous.resendVerificationEmail()).rejects.toMatchObject({ status: 401 });
    const client = createTaskClient({ baseUrl, tokens: example('/auth/login', 'post', '200') });
    await expect(client.resendVerificationEmail()).resolves.toBeUndefined();
    // Error states on request, each with its own example.
    const spent = await anonymous.POST('/auth/password-reset/confirm', { body: { token, new_password }, headers: { Prefer: 'code=400' } });
    expect(spent.error).toEqual(example('/auth/password-reset/confirm', 'post', '400', 'application/problem+json'));
    expect(spent.error?.type).toBe('/problems/invalid-token');
    const tooSoon = await client.POST('/auth/verify-email/resend', { headers: { Prefer: 'code=429' } });
    expect([tooSoon.response.status, tooSoon.response.headers.get('Retry-After')]).toEqual([429, '60']);
  });

  it('refuses bad parameters and unknown fields with 422, as the server does', async () => {
    const client = createTaskClient({ baseUrl, tokens: example('/auth/login', 'post', '200') });
    const cases = [
      client.GET('/tasks', { params: { query: { limit: 500 } } }),
      client.GET('/tasks/{id}', { params: { path: { id: 'not-a-uuid' } } }),
      client.POST('/tasks', { body: { title: 'x', owner_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6' } as never }),
      client.PUT('/tasks/{id}', { params: { path: { id: '9b2f6f7e-0c55-4d38-9a36-2f4c3c5e8d11' } }, body: {} }),
      client.POST('/auth/register', { body: { email: 'ada@example.com' } as never }),
    ];
    for (const { response, error } of await Promise.all(cases)) {
      expect(response.status, response.url).toBe(422);
      expect(error).toMatchObject({ type: '/problems/validation-error' });
    }
  });

  it('takes the 1.1 parameters as documented, and answers with the examples (README: what the mock does)', async () => {
    const client = createTaskClient({ baseUrl, tokens: example('/auth/login', 'post', '200') });
    const task = example('/tasks/{id}', 'get', '200');

    // Any cursor is taken; the example page is the last one, so a walk ends after it.
    const listed = await client.GET('/tasks', { params: { query: { cursor: 'from-an-earlier-page' } } });
    expect(listed.data).toEqual(example('/tasks', 'get', '200'));
    const walked = [];
    for await (const item of walk(client, '/tasks')) walked.push(item);
    expect(walked).toEqual([task]);

    // A well-formed key gets the example task, and every documented header, Idempotent-Replayed
    // included; a malformed one is 422 with the real violation in sl-violations.
    const created = await client.POST('/tasks', { params: { header: { 'Idempotency-Key': 'a-new-key' } }, body: { title: 'Buy milk' } });
    expect(created.response.status).toBe(201);
    expect(created.response.headers.get('Idempotent-Replayed')).toBe('true');
    const badKey = await client.POST('/tasks', { params: { header: { 'Idempotency-Key': 'two words' } }, body: { title: 'Buy milk' } });
    expect(badKey.response.status).toBe(422);
    expect(JSON.parse(badKey.response.headers.get('sl-violations')!)).toContainEqual(
      expect.objectContaining({ location: ['request', 'header', 'idempotency-key'], code: 'pattern' }),
    );

    // If-None-Match is not evaluated (the mock keeps no versions); Prefer: code=304 shows the 304.
    const path = `/tasks/${task.id}`;
    const etag = (await fetch(`${baseUrl}${path}`, { headers: { Authorization: TOKEN } })).headers.get('ETag')!;
    expect((await fetch(`${baseUrl}${path}`, { headers: { Authorization: TOKEN, 'If-None-Match': etag } })).status).toBe(200);
    const notModified = await fetch(`${baseUrl}${path}`, { headers: { Authorization: TOKEN, Prefer: 'code=304' } });
    expect([notModified.status, notModified.headers.get('ETag'), await notModified.text()]).toEqual([304, etag, '']);
  });

  it('takes the 1.2 planning filters and fields, answers with the examples, and refuses what breaks their rules', async () => {
    const client = createTaskClient({ baseUrl, tokens: example('/auth/login', 'post', '200') });
    const filtered = await client.GET('/tasks', { params: { query: { sort: 'due_at', priority: 'high', label: 'Q4', due_before: '2026-12-01T00:00:00Z' } } });
    expect(filtered.data).toEqual(example('/tasks', 'get', '200'));
    expect((await client.GET('/labels')).data).toEqual(example('/labels', 'get', '200'));
    const created = await client.POST('/tasks', { body: { title: 'Buy milk', due_at: '2026-12-01T09:00:00+01:00', priority: 'low', labels: ['home'] } });
    expect(created.response.status).toBe(201);
    const refused = [
      await client.GET('/tasks', { params: { query: { priority: 'critical' as never } } }),
      await client.POST('/tasks', { body: { title: 'x', labels: Array.from({ length: 21 }, (_, i) => `l${i}`) } }),
      await client.POST('/tasks', { body: { title: 'x', labels: [' padded'] } }),
      await client.POST('/tasks', { body: { title: 'x', labels: ['same', 'same'] } }),
      await client.POST('/tasks', { body: { title: 'x', due_at: 'tomorrow' } }),
    ];
    for (const { response } of refused) expect(response.status, JSON.stringify(response.headers.get('sl-violations'))).toBe(422);
  });

  it('serves the sync feed and the event stream from their examples (README: what the mock does with a stream)', async () => {
    const client = createTaskClient({ baseUrl, tokens: example('/auth/login', 'post', '200') });
    const page = example('/tasks/changes', 'get', '200');
    const seen: string[] = [];
    const handlers = { upsert: () => void seen.push('upsert'), delete: () => void seen.push('delete'), reset: () => void seen.push('reset') };
    // Any since is taken; the example page has has_more false, so a sync ends after it.
    expect(await sync(client, 'from-an-earlier-sync', handlers)).toBe(page.next_since);
    expect(seen).toEqual(['upsert', 'delete']);

    // The stream is the example's text, sent whole, and then closed: subscribe() gets its events,
    // and once more on every reconnection.
    seen.length = 0;
    let ready = 0;
    const subscription = subscribe(client, { ...handlers, retryMs: 50, ready: () => ready++ });
    for (let i = 0; i < 100 && ready < 2; i++) await sleep(50);
    subscription.close();
    expect(ready).toBeGreaterThanOrEqual(2);
    expect(seen.slice(0, 4)).toEqual(['upsert', 'delete', 'upsert', 'delete']);
  });

  it('checks the bearer scheme: no token or another scheme is 401, any bearer token passes', async () => {
    for (const headers of [{}, { Authorization: 'Basic YWRhOnNlY3JldA==' }] as Array<Record<string, string>>) {
      const res = await fetch(`${baseUrl}/auth/me`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ type: '/problems/unauthorized', status: 401 });
    }
    expect((await fetch(`${baseUrl}/auth/me`, { headers: { Authorization: TOKEN } })).status).toBe(200);
  });

  it.each(operations.map(({ path, method, item, op }) => [`${method.toUpperCase()} ${path}`, path, method, item, op] as const))(
    'answers %s with its documented example',
    async (_name, path, method, item, op) => {
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref);
      const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => params.find((p) => p.in === 'path' && p.name === name)!.example);
      const body = op.requestBody ? deref(op.requestBody).content['application/json'].example : undefined;
      const res = await fetch(`${baseUrl}${url}`, {
        method: method.toUpperCase(),
        headers: { Authorization: TOKEN, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const status = Object.keys(op.responses).find((code) => code.startsWith('2'))!;
      expect(res.status).toBe(Number(status));
      const content = deref(op.responses[status]).content as Json | undefined;
      if (!content) return expect(await res.text()).toBe('');
      const [mediaType, media] = Object.entries(content)[0]!;
      expect(res.headers.get('Content-Type')).toContain(mediaType);
      if (mediaType === 'application/json') expect(await res.json()).toEqual(media.example);
      else expect(await res.text()).toBe(media.example);
    },
  );

  it('answers every documented error status with that status\'s own example (Prefer: code=…)', async () => {
    const checked: string[] = [];
    for (const { path, method, item, op } of operations) {
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref);
      const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => params.find((p) => p.in === 'path' && p.name === name)!.example);
      const body = op.requestBody ? deref(op.requestBody).content['application/json'].example : undefined;
      for (const [status, response] of Object.entries(op.responses as Json)) {
        if (!/^[45]/.test(status)) continue;
        const res = await fetch(`${baseUrl}${url}`, {
          method: method.toUpperCase(),
          headers: { Authorization: TOKEN, Prefer: `code=${status}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const where = `${method.toUpperCase()} ${path} ${status}`;
        expect(res.status, where).toBe(Number(status));
        const problem = (await res.json()) as Json;
        expect(problem, where).toEqual(deref(response).content['application/problem+json'].example);
        expect(problem.status, `${where}: the example's own status`).toBe(Number(status));
        checked.push(where);
      }
    }
    expect(checked.length).toBeGreaterThan(50);
  });
});

describe('the examples a frontend builds on', () => {
  const parameter = (path: string, name: string) =>
    [...(spec.paths[path].parameters ?? []), ...Object.values(spec.paths[path] as Json).flatMap((op: Json) => op.parameters ?? [])]
      .map(deref)
      .find((p) => p.name === name)!.example;
  const user = example('/auth/me', 'get', '200');
  const task = example('/tasks/{id}', 'get', '200');
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  // What the server itself issues, to compare the examples' shape with.
  const issued = createTokens({ secretKey: 'k'.repeat(32), accessTokenTtl: 900, refreshTokenTtl: 604_800 });
  const serverAccess = jwt.decode(issued.signAccess({ sub: user.id, sid: user.id, role: 'user' }), { complete: true })!;
  const serverRefresh = jwt.decode(issued.signRefresh({ sub: user.id, sid: user.id, jti: user.id }), { complete: true })!;
  const pairs = [example('/auth/login', 'post', '200'), example('/auth/refresh', 'post', '200')];

  it.each([
    ['access', pairs.map((pair) => pair.access_token as string), serverAccess],
    ['refresh', pairs.map((pair) => pair.refresh_token as string), serverRefresh],
  ] as const)('%s tokens are JWTs with the claims the server issues, for the example user, valid for years', (typ, tokens, server) => {
    const sessions = new Set<string>();
    for (const token of tokens) {
      const { header, payload } = jwt.decode(token, { complete: true }) as { header: object; payload: jwt.JwtPayload };
      expect(header).toEqual(server.header);
      expect(Object.keys(payload).sort()).toEqual(Object.keys(server.payload as object).sort());
      expect(payload).toMatchObject({ typ, sub: user.id });
      if (typ === 'access') expect(payload.role).toBe(user.role);
      expect(payload.sid).toMatch(UUID);
      sessions.add(payload.sid);
      expect(payload.iat! * 1000).toBeLessThanOrEqual(Date.parse('2026-12-01T00:00:00Z'));
      expect(payload.exp! * 1000).toBeGreaterThan(Date.now() + 10 * 365 * 86_400_000);
    }
    expect(sessions.size, 'one session: login, then its refresh').toBe(1);
  });

  it('the refresh and logout examples send the refresh token that login returned', () => {
    const { refresh_token } = example('/auth/login', 'post', '200');
    expect(deref(spec.paths['/auth/refresh'].post.requestBody).content['application/json'].example).toEqual({ refresh_token });
    expect(deref(spec.paths['/auth/logout'].post.requestBody).content['application/json'].example).toEqual({ refresh_token });
  });

  it('the task a list returns is the task GET /tasks/{id} and POST /tasks return, owned by the example user', () => {
    expect(example('/tasks', 'get', '200').items).toEqual([task]);
    expect(example('/tasks', 'post', '201')).toEqual(task);
    expect(parameter('/tasks/{id}', 'id')).toBe(task.id);
    expect(deref(deref(spec.paths['/tasks'].post.responses['201']).headers.Location).schema.example).toBe(`/tasks/${task.id}`);
    expect(example('/tasks/{id}', 'put', '200')).toMatchObject({ id: task.id, owner_id: task.owner_id, created_at: task.created_at });
    expect(task.owner_id).toBe(user.id);
  });

  it('the task has a due date, a priority and labels, and GET /labels lists exactly its labels, one task each', () => {
    expect(task).toMatchObject({ due_at: expect.any(String), priority: 'high', labels: expect.arrayContaining([expect.any(String)]), completed_at: null });
    expect(example('/labels', 'get', '200').items).toEqual(task.labels.map((name: string) => ({ name, count: 1 })));
    // The create example sends the due date with an offset; the task shows the same instant in UTC.
    const body = deref(spec.paths['/tasks'].post.requestBody).content['application/json'].example;
    expect({ ...body, due_at: new Date(body.due_at).toISOString() }).toMatchObject({ due_at: task.due_at, priority: task.priority, labels: task.labels });
    expect(example('/tasks/{id}', 'put', '200')).toMatchObject({ status: 'done', completed_at: example('/tasks/{id}', 'put', '200').updated_at });
  });

  it('the user is the same in register, /auth/me, the user list and GET /users/{id}', () => {
    expect(example('/auth/register', 'post', '201')).toEqual(user);
    expect(example('/users', 'get', '200').items).toEqual([user]);
    expect(example('/users/{id}', 'get', '200')).toEqual(user);
    expect(parameter('/users/{id}', 'id')).toBe(user.id);
    expect(example('/users/{id}', 'patch', '200')).toMatchObject({ id: user.id, email: user.email, created_at: user.created_at });
  });

  // The JSON pointers an operation's 422 can name: its parameters, its body and the body's fields.
  const ownPointers = (item: Json, op: Json) => {
    const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref);
    const body = op.requestBody && deref(deref(op.requestBody).content['application/json'].schema);
    return [
      // Headers as the spec spells them, as the server names them (/header/Idempotency-Key).
      ...params.map((p) => `/${p.in}/${p.name}`),
      ...(body ? ['/body', ...Object.keys(body.properties ?? {}).map((name) => `/body/${name}`)] : []),
    ];
  };

  it.each(operations.filter(({ op }) => op.responses['422']).map(({ path, method, item, op }) => [`${method.toUpperCase()} ${path}`, item, op] as const))(
    "%s: its 422 example names only that operation's own parameters and body fields",
    (_name, item, op) => {
      const errors = deref(op.responses['422']).content['application/problem+json'].example.errors as { pointer: string; message: string }[];
      expect(errors.length).toBeGreaterThan(0);
      const own = ownPointers(item, op);
      // An item of a list field (`/body/labels/1`) counts as that field.
      if (own.length > 0) for (const { pointer } of errors) expect(own, pointer).toContain(pointer.replace(/\/\d+$/, ''));
      // An operation that takes nothing can only be sent a parameter it does not know.
      else for (const error of errors) expect(error).toMatchObject({ pointer: expect.stringMatching(/^\/query\//), message: 'is not allowed' });
    },
  );
});
