import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './support/server.js';
import { signUp } from './support/users.js';

describe('when the database stops answering', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startServer();
    token = (await signUp(server)).client.tokens!.access_token;
    await server.knex.destroy();
  });
  afterAll(() => server.close());

  it('GET /readyz answers 503 problem+json with Retry-After', async () => {
    const res = await server.fetch('/readyz');
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await res.json()).toMatchObject({ type: '/problems/service-unavailable', status: 503 });
  });

  it('GET /healthz still answers 200', async () => {
    expect((await server.fetch('/healthz')).status).toBe(200);
  });

  it('a bearer request answers 503, not 401 or 500', async () => {
    const { response } = await server.client().GET('/auth/me', { headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(503);
  });

  it('a login answers 503, not 500', async () => {
    const { response } = await server.client().POST('/auth/login', { body: { email: 'a@example.com', password: 'whatever-password' } });
    expect(response.status).toBe(503);
  });

  it('every response still matched the spec', () => {
    expect(server.violations).toEqual([]);
  });
});
