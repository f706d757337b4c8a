// make client: the typed client (src/client/) as an npm package of its own, compiled ESM with
// .d.ts and the generated types it needs, depending on openapi-fetch and eventsource-parser alone. Writes the `npm pack`
// tarball into the directory given (dist/client by default) and prints its path.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const NAME = 'task-management-client';
const out = resolve(process.argv[2] ?? 'dist/client');
const root = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
// The client's version is the version of the API it was generated from.
const spec = JSON.parse(readFileSync('generated/openapi.json', 'utf8')) as { info: { title: string; version: string } };

// The same layout as here (src/client/ beside generated/), so the compiled imports resolve as they are.
const manifest = {
  name: NAME,
  version: spec.info.version,
  description: `Typed client for the ${spec.info.title}: openapi-fetch on types generated from its OpenAPI document`,
  license: 'MIT',
  type: 'module',
  exports: { '.': { types: './src/client/index.d.ts', import: './src/client/index.js' } },
  types: './src/client/index.d.ts',
  sideEffects: false,
  dependencies: { 'eventsource-parser': root.dependencies['eventsource-parser'], 'openapi-fetch': root.dependencies['openapi-fetch'] },
};

const readme = `# ${NAME}

Typed client for the ${spec.info.title} ${spec.info.version}: paths, parameters, bodies and
responses are checked by the compiler; it sends the access token, refreshes it once on a 401 and
retries.

\`\`\`ts
import { createTaskClient, ok } from '${NAME}';

const api = createTaskClient({ baseUrl: 'http://localhost:8000' });
await api.login('ada@example.com', 'correct-horse-battery');
const page = await ok(api.GET('/tasks', { params: { query: { limit: 20 } } }));
\`\`\`

Keeping a copy of the tasks in sync: \`sync(api, since, handlers)\` follows \`GET /tasks/changes\` and
returns the position to keep; \`subscribe(api, { since, ...handlers })\` follows \`GET /tasks/events\`,
sending the bearer token and reconnecting with \`Last-Event-ID\`.
`;

const stage = mkdtempSync(join(tmpdir(), 'client-package-'));
try {
  execFileSync('node_modules/.bin/tsc', ['-p', 'tsconfig.client.json', '--outDir', stage], { stdio: 'inherit' });
  cpSync('generated/openapi.d.ts', join(stage, 'generated/openapi.d.ts'));
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(stage, 'README.md'), readme);
  mkdirSync(out, { recursive: true });
  for (const old of readdirSync(out).filter((f) => f.startsWith(`${NAME}-`) && f.endsWith('.tgz'))) rmSync(join(out, old));
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: stage, encoding: 'utf8' })) as { filename: string }[];
  console.log(join(out, packed!.filename));
} finally {
  rmSync(stage, { recursive: true, force: true });
}
