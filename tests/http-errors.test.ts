import { describe, expect, it } from 'vitest';
import { RawConnection } from './support/raw-http.js';
import { problemOf, useServer } from './support/server.js';
import { asUser, createTask } from './support/tasks.js';
import { signUp } from './support/users.js';

// Raw HTTP handling: a proxy in between would answer some of these itself.
const server = useServer({}, { direct: true });
const PROBLEM = 'application/problem+json; charset=utf-8';
const json = (body: string, contentType = 'application/json') => ({
  method: 'POST',
  headers: { 'Content-Type': contentType },
  body,
});

describe('errors are problem+json with the contract status codes', () => {
  it('an unknown route is 404', async () => {
    const res = await server().fetch('/no/such/route');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe(PROBLEM);
    expect(await problemOf(res)).toMatchObject({ type: '/problems/not-found', status: 404, instance: '/no/such/route' });
  });

  it('a wrong method on a known path is 405 with Allow', async () => {
    const res = await server().fetch('/healthz', { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(res.headers.get('content-type')).toBe(PROBLEM);
  });

  it('malformed JSON is 400', async () => {
    const res = await server().fetch('/auth/register', json('{"email":'));
    expect(res.status).toBe(400);
    expect(await problemOf(res)).toMatchObject({ type: '/problems/malformed-json', status: 400 });
  });

  it('a body that is not application/json is 415', async () => {
    const res = await server().fetch('/auth/register', json('email=a@b.c', 'text/plain'));
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toBe(PROBLEM);
  });

  it('a body over 64 KiB is 413', async () => {
    const body = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(70_000) });
    const res = await server().fetch('/auth/register', json(body));
    expect(res.status).toBe(413);
    expect((await problemOf(res)).status).toBe(413);
  });

  it('a body that breaks the schema is 422 listing every violation with a pointer', async () => {
    const res = await server().fetch('/auth/register', json(JSON.stringify({ email: 'nope', password: 'short', role: 'admin' })));
    expect(res.status).toBe(422);
    const problem = await problemOf(res);
    expect(problem.type).toBe('/problems/validation-error');
    expect(problem.errors!.map((e) => e.pointer).sort()).toEqual(['/body/email', '/body/password', '/body/role']);
  });

  it('a body with thousands of violations lists the first 50 and gives the count of all in detail', async () => {
    const unknown = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 1]));
    const body = JSON.stringify({ email: 'a@example.com', password: 'correct-horse-battery', ...unknown });
    const res = await server().fetch('/auth/register', json(body));
    expect(res.status).toBe(422);
    const text = await res.text();
    expect(text.length).toBeLessThan(body.length);
    const problem = JSON.parse(text) as { detail: string; errors: { pointer: string }[] };
    expect(problem.detail).toBe('The request has 5000 invalid values; the first 50 are listed.');
    expect(problem.errors.map((e) => e.pointer)).toEqual(Array.from({ length: 50 }, (_, i) => `/body/k${i}`));
  });

  it('a bare JSON scalar is 422, not 400', async () => {
    const res = await server().fetch('/auth/register', json('"just a string"'));
    expect(res.status).toBe(422);
  });

  it('a missing body is 422 pointing at /body', async () => {
    const res = await server().fetch('/auth/login', { method: 'POST' });
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors).toEqual([{ pointer: '/body', message: 'a JSON body is required' }]);
  });

  it('5,000-deep nested JSON is a 4xx, not a crash', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const res = await server().fetch('/auth/login', json(`{"email":${deep},"password":"x"}`));
    expect(res.status).toBe(422);
  });

  it('an unknown query parameter is 422 naming it', async () => {
    const res = await server().fetch('/healthz?verbose=1');
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors).toEqual([{ pointer: '/query/verbose', message: 'is not allowed' }]);
  });

  it('a request without a token on a secured operation is 401 with WWW-Authenticate', async () => {
    const res = await server().fetch('/tasks');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.headers.get('content-type')).toBe(PROBLEM);
  });

  it('responses carry no X-Powered-By', async () => {
    const res = await server().fetch('/healthz');
    expect(res.headers.has('x-powered-by')).toBe(false);
  });
});

describe('request ids', () => {
  it('a sane X-Request-Id is echoed', async () => {
    const res = await server().fetch('/healthz', { headers: { 'X-Request-Id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
  });

  it('an unsafe X-Request-Id is replaced by a new id', async () => {
    const res = await server().fetch('/healthz', { headers: { 'X-Request-Id': 'a b<script>' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('errors carry an X-Request-Id too', async () => {
    const res = await server().fetch('/nowhere');
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });
});

describe('HEAD', () => {
  it('answers like GET, without a body', async () => {
    const res = await server().fetch('/healthz', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });
});

describe('requests the HTTP layer itself refuses', () => {
  it('a path with a malformed percent-escape is 404, not a crash', async () => {
    for (const path of ['/tasks/%zz', '/users/%', '/tasks/%E0%A4%A']) {
      const res = await server().fetch(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe(PROBLEM);
    }
  });

  it('a JSON string that holds JSON is a string, not the object inside it', async () => {
    const res = await server().fetch('/auth/login', json(JSON.stringify(JSON.stringify({ email: 'a@example.com', password: 'whatever-password' }))));
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors).toEqual([{ pointer: '/body', message: 'must be of type object' }]);
  });

  it('a body sent to an operation that takes none is ignored, even if malformed', async () => {
    const res = await server().fetch('/auth/logout-all', json('{'));
    expect(res.status).toBe(401);
  });

  it('a malformed body sent to an unknown route is 404', async () => {
    const res = await server().fetch('/nowhere', json('{'));
    expect(res.status).toBe(404);
  });

  it('an HTTP/1.1 request without Host is 400 problem+json with an X-Request-Id', async () => {
    const connection = await RawConnection.open(server().baseUrl);
    connection.write('GET /healthz HTTP/1.1\r\nX-Request-Id: no-host-1\r\n\r\n');
    const res = await connection.response();
    connection.close();
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe(PROBLEM);
    expect(res.headers['x-request-id']).toBe('no-host-1');
    expect(JSON.parse(res.body)).toMatchObject({ type: '/problems/bad-request', status: 400, detail: 'An HTTP/1.1 request needs a Host header.' });
  });

  it('an HTTP/1.0 request without Host is served', async () => {
    const connection = await RawConnection.open(server().baseUrl);
    connection.write('GET /healthz HTTP/1.0\r\n\r\n');
    const res = await connection.response();
    connection.close();
    expect(res.status).toBe(200);
  });

  it.each(['200-ok', '100-continue, 200-ok', 'nonsense'])('Expect: %s is 417 problem+json with an X-Request-Id', async (expectation) => {
    const connection = await RawConnection.open(server().baseUrl);
    const body = '{"email":"a@example.com","password":"whatever-password"}';
    connection.write(`POST /auth/login HTTP/1.1\r\nHost: x\r\nX-Request-Id: expect-1\r\nExpect: ${expectation}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const res = await connection.response();
    connection.close();
    expect(res.status).toBe(417);
    expect(res.headers['content-type']).toBe(PROBLEM);
    expect(res.headers['x-request-id']).toBe('expect-1');
    expect(JSON.parse(res.body)).toMatchObject({ type: '/problems/expectation-failed', title: 'Expectation Failed', status: 417 });
  });

  it('Expect: 100-continue gets 100 Continue, then the answer', async () => {
    const connection = await RawConnection.open(server().baseUrl);
    const body = '{"email":"a@example.com","password":"whatever-password"}';
    connection.write(`POST /auth/login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    expect((await connection.response()).status).toBe(100);
    connection.write(body);
    const res = await connection.response();
    connection.close();
    expect(res.status).toBe(401);
  });

  it('oversized headers get 431 problem+json with an X-Request-Id', async () => {
    const res = await server().fetch('/healthz', { headers: { 'X-Padding': 'x'.repeat(20_000) } });
    expect(res.status).toBe(431);
    expect(res.headers.get('content-type')).toBe(PROBLEM);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect((await problemOf(res)).status).toBe(431);
  });
});

describe('a request with more header lines than the server reads', () => {
  /** 1000 header lines that mean nothing, then `headers`. */
  const after1000Junk = (headers: Record<string, string>) => ({
    ...Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`x-junk-${i}`, '1'])),
    ...headers,
  });

  it('is 431 problem+json, not a PUT that ignores its stale If-Match', async () => {
    const user = await signUp(server());
    const task = await createTask(user);
    const res = await server().fetch(`/tasks/${task.id}`, {
      method: 'PUT',
      headers: after1000Junk(asUser(user, { 'Content-Type': 'application/json', 'If-Match': '"1"' })),
      body: JSON.stringify({ title: 'Overwritten' }),
    });
    expect(res.status).toBe(431);
    expect(res.headers.get('content-type')).toBe(PROBLEM);
    expect(await problemOf(res)).toMatchObject({ type: '/problems/headers-too-large', status: 431 });
    expect((await user.client.GET('/tasks/{id}', { params: { path: { id: task.id } } })).data?.title).toBe(task.title);
  });

  it('is 431 problem+json, not a create that ignores its Idempotency-Key', async () => {
    const user = await signUp(server());
    const send = () =>
      server().fetch('/tasks', {
        method: 'POST',
        headers: after1000Junk(asUser(user, { 'Content-Type': 'application/json', 'Idempotency-Key': 'one-task-only' })),
        body: JSON.stringify({ title: 'Once' }),
      });
    expect((await send()).status).toBe(431);
    expect((await send()).status).toBe(431);
    expect((await user.client.GET('/tasks')).data?.total).toBe(0);
  });

  it('reads a request of exactly 1000 header lines in full', async () => {
    const connection = await RawConnection.open(server().baseUrl);
    const junk = Array.from({ length: 998 }, (_, i) => `X-Junk-${i}: 1\r\n`).join('');
    connection.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n${junk}X-Request-Id: line-1000\r\n\r\n`);
    const res = await connection.response();
    connection.close();
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('line-1000');
  });
});
