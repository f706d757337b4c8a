import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { once } from 'node:events';
import type { Knex } from 'knex';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { createApp } from '../../src/app.js';
import { createTaskClient, type Problem, type TaskClient, type TokenPair } from '../../src/client/index.js';
import { loadConfig } from '../../src/config.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { startConformanceProxy } from './conformance-proxy.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface TestServer {
  baseUrl: string;
  knex: Knex;
  /** A fresh typed client, the same one other teams use. */
  client(tokens?: TokenPair): TaskClient;
  /** Plain fetch against the server, for requests the typed client cannot make (bad JSON, wrong media types). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  violations: string[];
  close(): Promise<void>;
}

/** The real app on port 0 over a fresh, migrated database; every response is checked against the spec. */
export interface ServerOptions {
  /**
   * Bypass the conformance proxy. Only for tests of raw HTTP handling (malformed bodies, header
   * details) that Prism, being a proxy, rewrites or answers itself.
   */
  direct?: boolean;
}

export async function startServer(env: Record<string, string> = {}, options: ServerOptions = {}): Promise<TestServer> {
  const db: TestDatabase = await createTestDatabase();
  await migrateToLatest(db.knex);
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', ...env });
  const violations: string[] = [];
  const { app } = await createApp({
    config,
    knex: db.knex,
    logger: pino({ level: 'silent' }),
    onResponseViolation: (found) => violations.push(...found),
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // `make test-conformance` runs the whole suite once more through Prism.
  const proxy = process.env.CONFORMANCE === 'prism' && !options.direct ? await startConformanceProxy(serverUrl) : undefined;
  const baseUrl = proxy?.url ?? serverUrl;
  const checkedFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const found = response.headers.get('sl-violations');
    if (found) violations.push(`prism: ${found}`);
    return response;
  };
  return {
    baseUrl,
    knex: db.knex,
    violations,
    client: (tokens) => createTaskClient({ baseUrl, tokens, fetch: checkedFetch }),
    fetch: (path, init) => checkedFetch(`${baseUrl}${path}`, init),
    async close() {
      proxy?.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await db.destroy();
    },
  };
}

/**
 * One server for the file; after each test, asserts that every response the test caused matched
 * the spec.
 */
export function useServer(env: Record<string, string> = {}, options: ServerOptions = {}) {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startServer(env, options);
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(() => {
    const found = server?.violations.splice(0) ?? [];
    expect(found, 'responses that do not match openapi.yaml').toEqual([]);
  });
  return () => {
    if (!server) throw new Error('the server has not started');
    return server;
  };
}

/** The problem+json body of a plain-fetch response. */
export const problemOf = async (res: Response) => (await res.json()) as Problem;
