import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { Problem } from '../../src/client/index.js';
import { startServer, type ServerOptions, type TestServer } from './app-server.js';

export { startServer, type TestServer } from './app-server.js';

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
