// The README names three more npm generators besides @hey-api/openapi-ts (tests/generated-client.test.ts).
// Each is run exactly as the README writes its command, and its client must compile under
// `tsc --strict` in the module mode the README names for it, refuse a body field the spec does not
// have at compile time, take the spec's first server as its default base URL, and work against the
// server. The generators are pinned in tests/generators/package.json, apart from the app's own
// dependencies, and installed there on first use.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

const run = promisify(execFile);
// Once per CI run, in the embedded pass on the Docker image's Node line (orval needs Node ≥ 22.18):
// what a generator makes does not depend on the database or on which Node serves it.
// TEST_GENERATORS=1 runs it anywhere else.
const dockerNode = /^ARG NODE_IMAGE=node:(\d+)-slim$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
const enabled =
  process.env.TEST_GENERATORS === '1' ||
  (!process.env.TEST_DATABASE_URL && !process.env.CONFORMANCE && process.versions.node.split('.')[0] === dockerNode);
const GENERATORS_DIR = join(process.cwd(), 'tests/generators');
const SPEC_SERVER = 'http://127.0.0.1:8000';

interface Generator {
  package: string;
  bin: string;
  /** tsc's --module and --moduleResolution, as the README says the client is used. */
  module: 'nodenext' | 'bundler';
  /** use.ts: `tryIt(baseUrl, email, password)` logs in, creates a task and lists tasks. */
  use: string;
  /** A call with a body field the spec does not have. */
  unknownField: string;
  /** Where the generated code keeps its default base URL, and how it reads there. */
  baseFile: string;
  defaultBase: RegExp;
}

const GENERATORS: Generator[] = [
  {
    package: 'orval',
    bin: 'orval',
    module: 'nodenext',
    // orval's fetch client calls paths relative to the page (served from the API's origin, or a proxy).
    use: `import { createTask, listTasks, login } from './src/api/tasks.js';
export async function tryIt(email: string, password: string) {
  const tokens = await login({ email, password });
  if (tokens.status !== 200) throw new Error(\`login: \${tokens.status}\`);
  const headers = { Authorization: \`Bearer \${tokens.data.access_token}\` };
  const created = await createTask({ title: 'Made by orval' }, { headers });
  const listed = await listTasks({ limit: 10 }, { headers });
  if (created.status !== 201 || listed.status !== 200) throw new Error(\`\${created.status} \${listed.status}\`);
  return { created: created.data, listed: listed.data.items };
}
`,
    unknownField: `import { createTask } from './src/api/tasks.js';
await createTask({ title: 'x', colour: 'red' });
`,
    baseFile: 'src/api/tasks.ts',
    defaultBase: /return `\/auth\/login`/,
  },
  {
    package: 'swagger-typescript-api',
    bin: 'swagger-typescript-api',
    module: 'nodenext',
    use: `import { Api } from './src/api/Api.js';
export async function tryIt(baseUrl: string, email: string, password: string) {
  const api = new Api<string>({ baseUrl, securityWorker: (token) => (token ? { headers: { Authorization: \`Bearer \${token}\` } } : {}) });
  const tokens = await api.auth.login({ email, password });
  api.setSecurityData(tokens.data.access_token);
  const created = await api.tasks.createTask({ title: 'Made by swagger-typescript-api' });
  const listed = await api.tasks.listTasks({ limit: 10 });
  return { created: created.data, listed: listed.data.items };
}
`,
    unknownField: `import { Api } from './src/api/Api.js';
await new Api().tasks.createTask({ title: 'x', colour: 'red' });
`,
    baseFile: 'src/api/Api.ts',
    defaultBase: /public baseUrl: string = "http:\/\/127\.0\.0\.1:8000"/,
  },
  {
    package: 'openapi-typescript-codegen',
    bin: 'openapi',
    // Its imports name no file extension: fine for bundlers (Vite, webpack), not for NodeNext ESM.
    module: 'bundler',
    use: `import { AuthService, OpenAPI, TasksService } from './src/api/index';
export async function tryIt(baseUrl: string, email: string, password: string) {
  OpenAPI.BASE = baseUrl;
  const tokens = await AuthService.login({ email, password });
  OpenAPI.TOKEN = tokens.access_token;
  const created = await TasksService.createTask({ title: 'Made by openapi-typescript-codegen' });
  const listed = await TasksService.listTasks(10);
  return { created, listed: listed.items };
}
`,
    unknownField: `import { TasksService } from './src/api/index';
await TasksService.createTask({ title: 'x', colour: 'red' });
`,
    baseFile: 'src/api/core/OpenAPI.ts',
    defaultBase: /BASE: 'http:\/\/127\.0\.0\.1:8000'/,
  },
];

/** The README's command for a generator: `npx <package> <arguments>`. */
function readmeCommand(pkg: string): string[] {
  const match = new RegExp(`\`npx ${pkg} ([^\`]+)\``).exec(readFileSync('README.md', 'utf8'));
  if (!match) throw new Error(`README.md names no \`npx ${pkg} …\` command`);
  return match[1]!.split(' ');
}

const tsc = (cwd: string, module: Generator['module'], ...files: string[]) =>
  run(
    join(process.cwd(), 'node_modules/.bin/tsc'),
    ['--strict', '--noEmit', '--target', 'es2022', '--module', module === 'nodenext' ? 'nodenext' : 'esnext', '--moduleResolution', module, '--lib', 'es2022,dom,dom.iterable', ...files],
    { cwd },
  ).then(
    () => '',
    (error: { stdout: string }) => error.stdout,
  );

describe.skipIf(!enabled).each(GENERATORS)('a client generated with $package, as the README says', (generator) => {
  const server = useServer();
  const dir = mkdtempSync(join(tmpdir(), `generated-${generator.bin}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    if (!existsSync(join(GENERATORS_DIR, 'node_modules/.package-lock.json'))) {
      await run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: GENERATORS_DIR });
    }
    mkdirSync(join(dir, 'generated'));
    cpSync('generated/openapi.yaml', join(dir, 'generated/openapi.yaml'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    await run(join(GENERATORS_DIR, 'node_modules/.bin', generator.bin), readmeCommand(generator.package), { cwd: dir });
    writeFileSync(join(dir, 'use.ts'), generator.use);
    writeFileSync(join(dir, 'unknown.ts'), generator.unknownField);
  }, 300_000);

  it(`type-checks with tsc --strict (module resolution: ${generator.module}), and refuses a body field the spec does not have`, async () => {
    const errors = (await tsc(dir, generator.module, 'use.ts', 'unknown.ts')).split('\n').filter((line) => line.includes('error TS'));
    expect(errors.filter((line) => !line.startsWith('unknown.ts('))).toEqual([]);
    expect(errors.join('\n')).toMatch(/error TS2353: Object literal may only specify known properties, and 'colour' does not exist/);
  }, 120_000);

  it(`defaults to the spec's first server (${SPEC_SERVER}), or to paths relative to the page`, () => {
    const code = readFileSync(join(dir, generator.baseFile), 'utf8');
    expect(code).toMatch(generator.defaultBase);
    expect(code).not.toContain('//auth/login');
  });

  it('logs in, creates and lists a task against the server', async () => {
    const user = await signUp(server());
    const { tryIt } = (await import(join(dir, 'use.ts'))) as { tryIt: (...args: string[]) => Promise<{ created: { owner_id: string }; listed: unknown[] }> };
    const baseUrl = server().baseUrl;
    let result;
    if (generator.package === 'orval') {
      // As a page served from the API's origin: relative URLs resolve against it.
      const fetchFromPage = globalThis.fetch;
      globalThis.fetch = (input, init) => fetchFromPage(new URL(String(input), baseUrl), init);
      try {
        result = await tryIt(user.email, user.password);
      } finally {
        globalThis.fetch = fetchFromPage;
      }
    } else {
      result = await tryIt(baseUrl, user.email, user.password);
    }
    expect(result.created.owner_id).toBe(user.id);
    expect(result.listed).toEqual([result.created]);
  }, 60_000);
});
