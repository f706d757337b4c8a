import { describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';

// Static files, not API operations: no proxy in between.
const server = useServer({}, { direct: true });

// What the two pages load (tests/docs.test.ts renders them in a browser).
const LOADED = [
  ['/docs/assets/swagger-ui.css', 'text/css'],
  ['/docs/assets/swagger-ui-bundle.js', 'text/javascript'],
  ['/docs/init.js', 'text/javascript'],
  ['/redoc/assets/redoc.standalone.js', 'text/javascript'],
  ['/redoc/init.js', 'text/javascript'],
];

// What the packages also hold.
const NOT_LOADED = [
  '/docs/assets/package.json',
  '/docs/assets/index.html',
  '/docs/assets/swagger-initializer.js',
  '/docs/assets/oauth2-redirect.html',
  '/docs/assets/swagger-ui-bundle.js.map',
  '/docs/assets/swagger-ui.js',
  '/docs/assets/README.md',
  '/docs/assets/',
  '/redoc/assets/redoc.standalone.js.map',
  '/redoc/assets/redoc.lib.js',
  '/redoc/assets/redoc.standalone.js.LICENSE.txt',
  '/redoc/assets/',
];

describe('the docs routes serve only what the two pages load', () => {
  it.each(LOADED)('%s is served', async (path, type) => {
    const res = await server().fetch(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(new RegExp(`^${type}`));
  });

  it.each(NOT_LOADED)('%s is 404', async (path) => {
    const res = await server().fetch(path);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
  });
});
