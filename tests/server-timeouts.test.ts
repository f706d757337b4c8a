import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { serverTimeouts } from '../src/http/server.js';
import { RawConnection } from './support/raw-http.js';
import { useServer } from './support/server.js';

// A 1 s request timeout keeps these fast; slow clients hold raw sockets, so no proxy in between.
const server = useServer({ REQUEST_TIMEOUT_SECONDS: '1' }, { direct: true });
const PROBLEM = 'application/problem+json; charset=utf-8';
// Cut off after the timeout plus Node's check interval; generous for a busy machine.
const CUT_OFF_WITHIN_MS = 4000;

async function expectRequestTimeout(connection: RawConnection, started: number) {
  const res = await connection.response();
  await connection.closed;
  expect(Date.now() - started).toBeLessThan(CUT_OFF_WITHIN_MS);
  expect(res.status).toBe(408);
  expect(res.headers['content-type']).toBe(PROBLEM);
  expect(res.headers.connection).toBe('close');
  expect(JSON.parse(res.body)).toMatchObject({ type: '/problems/request-timeout', title: 'Request Timeout', status: 408 });
  return res;
}

describe('server timeouts', () => {
  it('by default: 30 s for a request, 10 s for its headers, and keep-alive longer than a load balancer\'s 60 s idle timeout', () => {
    const timeouts = serverTimeouts(30);
    expect(timeouts).toEqual({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 65_000 });
    expect(timeouts.keepAliveTimeout).toBeGreaterThan(60_000);
  });

  it('never allows longer for the headers than for the whole request', () => {
    expect(serverTimeouts(5).headersTimeout).toBe(5000);
  });

  it('a client that trickles its headers is cut off with 408 problem+json', async () => {
    const connection = await RawConnection.open(server().baseUrl);
    const started = Date.now();
    connection.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    connection.trickle('X-Slow: 1\r\n'.repeat(100), 100);
    const res = await expectRequestTimeout(connection, started);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a client that connects and sends nothing is cut off too', async () => {
    const connection = await RawConnection.open(server().baseUrl);
    await expectRequestTimeout(connection, Date.now());
  });

  it('a client that trickles its body is cut off with 408 problem+json carrying its X-Request-Id, and nothing is stored', async () => {
    const connection = await RawConnection.open(server().baseUrl);
    const email = 'slow-body@example.com';
    const body = JSON.stringify({ email, password: 'correct-horse-battery' });
    const started = Date.now();
    connection.write(
      `POST /auth/register HTTP/1.1\r\nHost: x\r\nX-Request-Id: slow-body-1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    connection.trickle(body, 100);
    const res = await expectRequestTimeout(connection, started);
    expect(res.headers['x-request-id']).toBe('slow-body-1');
    expect(await server().knex('users').where('email', email).first()).toBeUndefined();
  });

  it('an idle keep-alive connection outlives the request timeout and serves the next request', async () => {
    const connection = await RawConnection.open(server().baseUrl);
    connection.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await connection.response()).status).toBe(200);
    await sleep(1800);
    connection.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await connection.response()).status).toBe(200);
    connection.close();
  });
});
