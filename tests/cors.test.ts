import { describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';

// Response headers are what is tested, so no proxy in between.
const server = useServer({ CORS_ORIGINS: 'https://app.example.com' }, { direct: true });

describe('CORS', () => {
  it('answers a preflight from a configured origin', async () => {
    const res = await server().fetch('/tasks', {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  });

  it('lets browsers read ETag, Idempotent-Replayed, Location, Retry-After and X-Request-Id', async () => {
    const res = await server().fetch('/healthz', { headers: { Origin: 'https://app.example.com' } });
    expect(res.headers.get('access-control-expose-headers')).toBe('ETag,Idempotent-Replayed,Location,Retry-After,X-Request-Id');
  });

  it('lets browsers send Idempotency-Key and If-None-Match', async () => {
    const res = await server().fetch('/tasks', {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'idempotency-key,if-none-match' },
    });
    expect(res.headers.get('access-control-allow-headers')).toBe('idempotency-key,if-none-match');
  });

  it('grants nothing to another origin', async () => {
    const res = await server().fetch('/healthz', { headers: { Origin: 'https://evil.example.net' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
