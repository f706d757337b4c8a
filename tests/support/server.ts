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
export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
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
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    knex: db.knex,
    violations,
    client: (tokens) => createTaskClient({ baseUrl, tokens }),
    fetch: (path, init) => fetch(`${baseUrl}${path}`, init),
    async close() {
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
export function useServer(env: Record<string, string> = {}) {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startServer(env);
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
