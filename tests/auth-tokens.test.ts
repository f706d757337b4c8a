import { createHmac, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { ok, type TokenPair } from '../src/client/index.js';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

const SECRET_KEY = 'a-test-secret-that-is-long-enough-for-hs256';
const server = useServer({ SECRET_KEY });

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claimsOf = (token: string) => jwt.decode(token) as jwt.JwtPayload;

/** GET /auth/me with exactly this bearer token, through a client that holds no pair of its own. */
async function meWith(token: string) {
  const { response } = await server().client().GET('/auth/me', { headers: { Authorization: `Bearer ${token}` } });
  return response;
}
const refreshWith = (refresh_token: string) => server().client().POST('/auth/refresh', { body: { refresh_token } });

describe('bearer tokens that are refused with 401 and WWW-Authenticate', () => {
  it('a token with alg none', async () => {
    const { client } = await signUp(server());
    const claims = claimsOf(client.tokens!.access_token);
    const response = await meWith(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('a token signed with another key', async () => {
    const { client } = await signUp(server());
    const { iat, exp, ...claims } = claimsOf(client.tokens!.access_token);
    expect((await meWith(jwt.sign({ ...claims, exp }, 'someone-elses-secret-key-of-enough-length'))).status).toBe(401);
  });

  it('a token signed with another algorithm (HS512)', async () => {
    const { client } = await signUp(server());
    const { iat, ...claims } = claimsOf(client.tokens!.access_token);
    expect((await meWith(jwt.sign(claims, SECRET_KEY, { algorithm: 'HS512' }))).status).toBe(401);
  });

  it('a tampered token (role changed, signature kept)', async () => {
    const { client } = await signUp(server());
    const [header, , signature] = client.tokens!.access_token.split('.');
    const claims = { ...claimsOf(client.tokens!.access_token), role: 'admin' };
    expect((await meWith(`${header}.${b64(claims)}.${signature}`)).status).toBe(401);
  });

  it('an expired token', async () => {
    const { client } = await signUp(server());
    const { iat, exp, ...claims } = claimsOf(client.tokens!.access_token);
    const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, SECRET_KEY, { algorithm: 'HS256' });
    const response = await meWith(expired);
    expect(response.status).toBe(401);
  });

  it('a refresh token used as an access token', async () => {
    const { client } = await signUp(server());
    expect((await meWith(client.tokens!.refresh_token)).status).toBe(401);
  });

  it('a correctly signed token for a session that does not exist', async () => {
    const { client } = await signUp(server());
    const { iat, exp, ...claims } = claimsOf(client.tokens!.access_token);
    const forged = jwt.sign({ ...claims, sid: randomUUID() }, SECRET_KEY, { algorithm: 'HS256', expiresIn: 60 });
    expect((await meWith(forged)).status).toBe(401);
  });

  it('a malformed Authorization header', async () => {
    const { response } = await server().client().GET('/auth/me', { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
    expect(response.status).toBe(401);
  });
});

describe('access token claims', () => {
  it('carry sub, role, sid, iat, exp and mark themselves as access tokens', async () => {
    const { client, id } = await signUp(server());
    const claims = claimsOf(client.tokens!.access_token);
    expect(claims).toMatchObject({ sub: id, role: 'user', sid: expect.any(String), typ: 'access' });
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(jwt.decode(client.tokens!.access_token, { complete: true })?.header.alg).toBe('HS256');
  });

  it('refresh tokens carry sub, jti and sid and mark themselves as refresh tokens', async () => {
    const { client, id } = await signUp(server());
    expect(claimsOf(client.tokens!.refresh_token)).toMatchObject({ sub: id, jti: expect.any(String), sid: expect.any(String), typ: 'refresh' });
  });
});

describe('POST /auth/refresh', () => {
  it('rotates: returns a new pair and the presented token is spent', async () => {
    const { client } = await signUp(server());
    const first = client.tokens!;
    const next = await ok(refreshWith(first.refresh_token));
    expect(next.refresh_token).not.toBe(first.refresh_token);
    expect((await meWith(next.access_token)).status).toBe(200);
    expect((await refreshWith(next.refresh_token)).response.status).toBe(200);
  });

  it('answers with Cache-Control: no-store, so no cache keeps the tokens', async () => {
    const { client } = await signUp(server());
    const { response } = await refreshWith(client.tokens!.refresh_token);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('refuses an access token', async () => {
    const { client } = await signUp(server());
    const { response } = await refreshWith(client.tokens!.access_token);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('refuses a forged refresh token', async () => {
    const { client } = await signUp(server());
    const { iat, exp, ...claims } = claimsOf(client.tokens!.refresh_token);
    const forged = jwt.sign(claims, 'someone-elses-secret-key-of-enough-length', { algorithm: 'HS256', expiresIn: 60 });
    expect((await refreshWith(forged)).response.status).toBe(401);
  });

  it('on reuse of a spent token answers 401 and revokes the session, successor included', async () => {
    const { client } = await signUp(server());
    const stolen = client.tokens!.refresh_token;
    const successor = await ok(refreshWith(stolen));
    expect((await refreshWith(stolen)).response.status).toBe(401);
    expect((await refreshWith(successor.refresh_token)).response.status).toBe(401);
    expect((await meWith(successor.access_token)).status).toBe(401);
  });

  it('on reuse leaves the same user’s other sessions untouched', async () => {
    const { client, email, password } = await signUp(server());
    const other = await ok(server().client().POST('/auth/login', { body: { email, password } }));
    const stolen = client.tokens!.refresh_token;
    await ok(refreshWith(stolen));
    await refreshWith(stolen);
    expect((await meWith(other.access_token)).status).toBe(200);
    expect((await refreshWith(other.refresh_token)).response.status).toBe(200);
  });

  it('refuses the refresh token of a deactivated user', async () => {
    const { client, id } = await signUp(server());
    await server().knex('users').where({ id }).update({ is_active: false });
    expect((await refreshWith(client.tokens!.refresh_token)).response.status).toBe(401);
  });

  it('carries the current role from the database into the new access token', async () => {
    const { client, id } = await signUp(server());
    await server().knex('users').where({ id }).update({ role: 'admin' });
    const next = await ok(refreshWith(client.tokens!.refresh_token));
    expect(claimsOf(next.access_token).role).toBe('admin');
  });
});

describe('ending sessions', () => {
  it('logout ends the session: its access and refresh tokens stop working at once', async () => {
    const { client } = await signUp(server());
    const pair: TokenPair = client.tokens!;
    expect((await server().client().POST('/auth/logout', { body: { refresh_token: pair.refresh_token } })).response.status).toBe(204);
    expect((await meWith(pair.access_token)).status).toBe(401);
    expect((await refreshWith(pair.refresh_token)).response.status).toBe(401);
  });

  it('logout of an ended session is still 204', async () => {
    const { client } = await signUp(server());
    const body = { refresh_token: client.tokens!.refresh_token };
    await server().client().POST('/auth/logout', { body });
    expect((await server().client().POST('/auth/logout', { body })).response.status).toBe(204);
  });

  it('logout refuses a token that is not a valid refresh token', async () => {
    const { client } = await signUp(server());
    const { response } = await server().client().POST('/auth/logout', { body: { refresh_token: client.tokens!.access_token } });
    expect(response.status).toBe(401);
  });

  it('logout leaves the user’s other sessions alive', async () => {
    const { client, email, password } = await signUp(server());
    const other = await ok(server().client().POST('/auth/login', { body: { email, password } }));
    await client.logout();
    expect((await meWith(other.access_token)).status).toBe(200);
  });

  it('logout-all ends every session of the caller', async () => {
    const { client, email, password } = await signUp(server());
    const other = await ok(server().client().POST('/auth/login', { body: { email, password } }));
    const mine = client.tokens!;
    expect((await client.POST('/auth/logout-all')).response.status).toBe(204);
    expect((await meWith(mine.access_token)).status).toBe(401);
    expect((await meWith(other.access_token)).status).toBe(401);
    expect((await refreshWith(other.refresh_token)).response.status).toBe(401);
  });

  it('deactivating a user stops their access tokens at once', async () => {
    const { client, id } = await signUp(server());
    const access = client.tokens!.access_token;
    await server().knex('users').where({ id }).update({ is_active: false });
    expect((await meWith(access)).status).toBe(401);
  });
});

describe('well-signed tokens that this server did not issue as they are', () => {
  type Claims = jwt.JwtPayload;
  // Signed with the server's own key from a real token's claims, so only the flaw named refuses each.
  const forge = (token: string, change: (claims: Claims) => Claims, header: object = {}) => {
    const { iat, ...claims } = claimsOf(token);
    return jwt.sign(change(claims), SECRET_KEY, { algorithm: 'HS256', header: { alg: 'HS256', ...header } as jwt.JwtHeader });
  };
  const flaws: [string, (claims: Claims) => Claims, object?][] = [
    ['a sub that is not a UUID', (c) => ({ ...c, sub: 'not-a-uuid' })],
    ['a sid that is not a UUID', (c) => ({ ...c, sid: 'not-a-uuid' })],
    ['no exp', ({ exp, ...c }) => c],
    ['an unknown crit header', (c) => c, { crit: ['tenant'], tenant: 'acme' }],
  ];
  const refreshFlaws: typeof flaws = [...flaws, ['a jti that is not a UUID', (c) => ({ ...c, jti: 'not-a-uuid' })]];

  it.each(refreshFlaws)('refresh refuses a refresh token with %s with 401 and ends nothing', async (_flaw, change, header) => {
    const { client } = await signUp(server());
    const { response } = await refreshWith(forge(client.tokens!.refresh_token, change, header));
    expect(response.status).toBe(401);
    expect((await meWith(client.tokens!.access_token)).status).toBe(200);
    expect((await refreshWith(client.tokens!.refresh_token)).response.status).toBe(200);
  });

  it.each(refreshFlaws)('logout refuses a refresh token with %s with 401 and ends nothing', async (_flaw, change, header) => {
    const { client } = await signUp(server());
    const refresh_token = forge(client.tokens!.refresh_token, change, header);
    const { response } = await server().client().POST('/auth/logout', { body: { refresh_token } });
    expect(response.status).toBe(401);
    expect((await meWith(client.tokens!.access_token)).status).toBe(200);
  });

  it.each(flaws)('a bearer token with %s is 401', async (_flaw, change, header) => {
    const { client } = await signUp(server());
    const response = await meWith(forge(client.tokens!.access_token, change, header));
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });
});

describe('the HMAC check itself', () => {
  it('a signature over the right content with the right key is accepted (the forgeries above fail for their flaw alone)', async () => {
    const { client } = await signUp(server());
    const [header, payload] = client.tokens!.access_token.split('.');
    const signature = createHmac('sha256', SECRET_KEY).update(`${header}.${payload}`).digest('base64url');
    expect((await meWith(`${header}.${payload}.${signature}`)).status).toBe(200);
  });
});
