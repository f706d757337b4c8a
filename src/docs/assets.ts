import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import { withoutCdnLogos } from './offline.js';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

// Try it out calls the server that serves this page, wherever it runs: the spec's first server is
// a local address, the default base URL of generated clients.
const SWAGGER_INIT = `fetch('/openapi.json').then((res) => res.json()).then((spec) => {
  spec.servers = [{ url: window.location.origin, description: 'The server that serves this page' }];
  window.ui = SwaggerUIBundle({
    spec, dom_id: '#swagger-ui', validatorUrl: null,
    persistAuthorization: true, deepLinking: true,
  });
});
`;
const REDOC_INIT = `Redoc.init('/openapi.json', {}, document.getElementById('redoc'));\n`;

const page = (title: string, head: string, body: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="/favicon.ico">
${head}
</head>
<body>
${body}
</body>
</html>
`;

export const swaggerUiPage = page(
  'Task Management API — Swagger UI',
  '<link rel="stylesheet" href="/docs/assets/swagger-ui.css">',
  '<div id="swagger-ui"></div>\n<script src="/docs/assets/swagger-ui-bundle.js"></script>\n<script src="/docs/init.js"></script>',
);

export const redocPage = page(
  'Task Management API — Reference',
  '<style>body { margin: 0; }</style>',
  '<div id="redoc"></div>\n<script src="/redoc/assets/redoc.standalone.js"></script>\n<script src="/redoc/init.js"></script>',
);

const javascript = (source: string | (() => string)): RequestHandler => (_req, res) => {
  res.type('text/javascript').send(typeof source === 'string' ? source : source());
};

// Redoc's bundle, read once on first use, with its CDN logo made inline (see offline.ts).
let redocBundle: string | undefined;
const redocStandalone = () =>
  (redocBundle ??= withoutCdnLogos(readFileSync(`${packageDir('redoc')}/bundles/redoc.standalone.js`, 'utf8')));

// Files served from npm packages as they are, each by name: serving the package folders whole would
// also publish their package.json, source maps and swagger-ui's stock index.html (which points at
// the petstore). A file a page starts to load gets a line here.
const PACKAGE_FILES: Record<string, string> = {
  '/docs/assets/swagger-ui.css': `${packageDir('swagger-ui-dist')}/swagger-ui.css`,
  '/docs/assets/swagger-ui-bundle.js': `${packageDir('swagger-ui-dist')}/swagger-ui-bundle.js`,
};

/** Everything the two docs pages load, and nothing else, from npm packages: no CDN at run time. */
export const docsAssets = express.Router()
  .get('/redoc/assets/redoc.standalone.js', javascript(redocStandalone))
  .get('/docs/init.js', javascript(SWAGGER_INIT))
  .get('/redoc/init.js', javascript(REDOC_INIT));
for (const [path, file] of Object.entries(PACKAGE_FILES)) docsAssets.get(path, (_req, res) => res.sendFile(file));
// Both pages name it, and browsers ask any host for it: a 404 there is a console error on /docs.
docsAssets.get('/favicon.ico', (_req, res) => res.sendFile(`${packageDir('swagger-ui-dist')}/favicon-32x32.png`));

// helmet's default `upgrade-insecure-requests` would make a browser fetch the docs' scripts over
// HTTPS from a plain-HTTP server on any host but localhost, leaving a blank page.
const apiHeaders = helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
// The docs pages inject styles and Redoc starts a worker from a blob; the API itself needs neither.
const docsHeaders = helmet({
  contentSecurityPolicy: {
    directives: {
      upgradeInsecureRequests: null,
      'script-src': ["'self'"],
      'style-src': ["'self'", "'unsafe-inline'"],
      'img-src': ["'self'", 'data:'],
      'worker-src': ["'self'", 'blob:'],
      'connect-src': ["'self'"],
    },
  },
});

export const docsPolicy: RequestHandler = (req, res, next) =>
  (/^\/(docs|redoc)(\/|$)/.test(req.path) ? docsHeaders : apiHeaders)(req, res, next);
