import { describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { useServer } from './support/server.js';

const server = useServer();

describe('operations endpoints', () => {
  it('GET /healthz answers ok', async () => {
    expect(await ok(server().client().GET('/healthz'))).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers ok while the database answers', async () => {
    expect(await ok(server().client().GET('/readyz'))).toEqual({ status: 'ok', database: 'ok' });
  });

  it('GET /openapi.json serves the bundled spec', async () => {
    const spec = (await ok(server().client().GET('/openapi.json'))) as { openapi: string; paths: object };
    expect(spec.openapi).toBe('3.0.3');
    expect(Object.keys(spec.paths)).toContain('/tasks/{id}');
  });

  it('GET /openapi.yaml serves the same spec as YAML', async () => {
    const res = await server().fetch('/openapi.yaml');
    expect(res.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(await res.text()).toMatch(/^openapi: 3\.0\.3/m);
  });
});
