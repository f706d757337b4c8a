import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { ApiProblem, createTaskClient, ok, type TokenPair } from '../src/client/index.js';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

const SECRET_KEY = 'a-test-secret-that-is-long-enough-for-hs256';
const server = useServer({ SECRET_KEY });

/** The same pair with its access token already expired. */
function withExpiredAccess(pair: TokenPair): TokenPair {
  const { iat, exp, ...claims } = jwt.decode(pair.access_token) as jwt.JwtPayload;
  const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 5 }, SECRET_KEY, { algorithm: 'HS256' });
  return { ...pair, access_token: expired };
}

/** A client whose fetch counts the refreshes it makes. */
function countingClient(tokens: TokenPair) {
  const counter = { refreshes: 0 };
  const client = createTaskClient({
    baseUrl: server().baseUrl,
    tokens,
    fetch: (input, init) => {
      if (new URL(input instanceof Request ? input.url : String(input)).pathname === '/auth/refresh') counter.refreshes++;
      return fetch(input, init);
    },
  });
  return { client, counter };
}

describe('the typed client', () => {
  it('refreshes an expired access token once and retries the request', async () => {
    const { client: original } = await signUp(server());
    const { client, counter } = countingClient(withExpiredAccess(original.tokens!));
    expect((await client.GET('/auth/me')).response.status).toBe(200);
    expect(counter.refreshes).toBe(1);
    expect(client.tokens!.refresh_token).not.toBe(original.tokens!.refresh_token);
  });

  it('shares one refresh between concurrent calls', async () => {
    const { client: original } = await signUp(server());
    const { client, counter } = countingClient(withExpiredAccess(original.tokens!));
    const statuses = await Promise.all(Array.from({ length: 5 }, () => client.GET('/auth/me').then((r) => r.response.status)));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(counter.refreshes).toBe(1);
  });

  it('retries a request with a body after refreshing', async () => {
    const { client: original, password } = await signUp(server());
    const { client } = countingClient(withExpiredAccess(original.tokens!));
    const { response } = await client.POST('/auth/password', { body: { current_password: password, new_password: 'a-brand-new-secret' } });
    expect(response.status).toBe(204);
  });

  it('forgets the pair and returns the 401 when the refresh fails', async () => {
    const { client: original } = await signUp(server());
    const expired = withExpiredAccess(original.tokens!);
    await original.logout();
    const { client } = countingClient(expired);
    expect((await client.GET('/auth/me')).response.status).toBe(401);
    expect(client.tokens).toBeUndefined();
  });

  it('keeps the pair when the refresh itself fails for another reason (503)', async () => {
    const { client: original } = await signUp(server());
    const expired = withExpiredAccess(original.tokens!);
    const client = createTaskClient({
      baseUrl: server().baseUrl,
      tokens: expired,
      fetch: (input, init) =>
        new URL(input instanceof Request ? input.url : String(input)).pathname === '/auth/refresh'
          ? Promise.resolve(new Response(null, { status: 503 }))
          : fetch(input, init),
    });
    expect((await client.GET('/auth/me')).response.status).toBe(401);
    expect(client.tokens).toEqual(expired);
  });

  it('does not refresh on a 401 that is about a wrong password', async () => {
    const { client: original } = await signUp(server());
    const { client, counter } = countingClient(original.tokens!);
    const { response } = await client.POST('/auth/password', { body: { current_password: 'not-my-password', new_password: 'a-brand-new-secret' } });
    expect(response.status).toBe(401);
    expect(counter.refreshes).toBe(0);
  });

  it('ok() throws problem+json errors as ApiProblem with the typed problem', async () => {
    const error = await ok(server().client().POST('/auth/login', { body: { email: 'nobody@example.com', password: 'whatever-password' } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiProblem);
    expect((error as ApiProblem).status).toBe(401);
    expect((error as ApiProblem).problem.type).toBe('/problems/invalid-credentials');
  });

  it('behind a base path (a dev-server proxy on /api) still does not refresh on a 401 from /auth/refresh itself', async () => {
    const { client: original } = await signUp(server());
    const counter = { refreshes: 0 };
    const client = createTaskClient({
      baseUrl: `${server().baseUrl}/api`,
      tokens: original.tokens,
      fetch: async (input, init) => {
        const request = new Request(input, init);
        const url = new URL(request.url);
        url.pathname = url.pathname.replace(/^\/api/, ''); // what the proxy does
        if (url.pathname === '/auth/refresh') counter.refreshes++;
        return fetch(url, { method: request.method, headers: request.headers, body: await request.text() });
      },
    });
    const { response } = await client.POST('/auth/refresh', { body: { refresh_token: 'not-a-token' } });
    expect(response.status).toBe(401);
    expect(counter.refreshes).toBe(1);
    expect(client.tokens).toEqual(original.tokens);
  });

  it('login keeps the pair and logout forgets it and ends the session', async () => {
    const { email, password } = await signUp(server());
    const client = server().client();
    await client.login(email, password);
    const pair = client.tokens!;
    await client.logout();
    expect(client.tokens).toBeUndefined();
    expect((await server().client(pair).GET('/auth/me')).response.status).toBe(401);
  });
});
