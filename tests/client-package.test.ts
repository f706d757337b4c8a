// `make client` as another team uses it: the tarball installed into a project of its own, used
// from plain JavaScript against a real server, and type-checked from TypeScript.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

const run = promisify(execFile);
const NAME = 'task-management-client';
const TSC = join(process.cwd(), 'node_modules/.bin/tsc');
const DEPENDENCIES = ['eventsource-parser', 'openapi-fetch'];

interface LockEntry {
  version: string;
  dependencies?: Record<string, string>;
}

/**
 * A lockfile for the project, as the consumer's own `npm install` would write it. With it, npm
 * installs from the npm cache alone (`npm ci` of this repository put openapi-fetch there) and
 * needs no registry metadata, so the test runs offline.
 */
function consumerLock(tarball: string) {
  const ours = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockEntry> };
  const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { [NAME]: `file:${tarball}` } },
    [`node_modules/${NAME}`]: {
      resolved: `file:${tarball}`,
      dependencies: Object.fromEntries(DEPENDENCIES.map((name) => [name, manifest.dependencies[name]])),
    },
  };
  const add = (name: string) => {
    const key = `node_modules/${name}`;
    if (packages[key]) return;
    packages[key] = ours.packages[key];
    for (const dependency of Object.keys(ours.packages[key]!.dependencies ?? {})) add(dependency);
  };
  DEPENDENCIES.forEach(add);
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages };
}

describe('the client package (make client)', () => {
  const server = useServer();
  const work = mkdtempSync(join(tmpdir(), 'client-package-'));
  const project = join(work, 'consumer');
  let tarball = '';
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  beforeAll(async () => {
    tarball = (await run('make', ['-s', 'client', `CLIENT_OUT=${work}`])).stdout.trim();
    await run('mkdir', [project]);
    const manifest = { name: 'consumer', private: true, type: 'module', dependencies: { [NAME]: `file:${tarball}` } };
    writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(consumerLock(tarball), null, 2));
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: project });
  }, 120_000);

  it('is an npm pack tarball of compiled ESM, declarations and the generated types, nothing of the server', async () => {
    expect(tarball).toMatch(new RegExp(`/${NAME}-\\d+\\.\\d+\\.\\d+\\.tgz$`));
    const files = (await run('tar', ['tzf', tarball])).stdout.trim().split('\n').sort();
    expect(files).toEqual([
      'package/README.md',
      'package/generated/openapi.d.ts',
      'package/package.json',
      'package/src/client/create-once.d.ts',
      'package/src/client/create-once.js',
      'package/src/client/index.d.ts',
      'package/src/client/index.js',
      'package/src/client/sync.d.ts',
      'package/src/client/sync.js',
      'package/src/client/walk.d.ts',
      'package/src/client/walk.js',
    ]);
  });

  it("is the file the README's install line names", () => {
    expect(readFileSync('README.md', 'utf8')).toContain(`npm install ../task-management-api/dist/client/${tarball.slice(tarball.lastIndexOf('/') + 1)}`);
  });

  it('depends on openapi-fetch and eventsource-parser alone, has no install scripts, and exports types and import conditions', async () => {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules', NAME, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(installed.dependencies as object)).toEqual(DEPENDENCIES);
    expect(installed.scripts).toBeUndefined();
    expect(installed.exports).toEqual({ '.': { types: './src/client/index.d.ts', import: './src/client/index.js' } });
    const { stdout } = await run('npm', ['ls', '--all', '--parseable'], { cwd: project });
    const names = stdout.trim().split('\n').slice(1).map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(names.sort()).toEqual(['eventsource-parser', 'openapi-fetch', 'openapi-typescript-helpers', NAME]);
  });

  it('works from a plain .mjs file: logs in, creates a task, lists it and syncs it', async () => {
    const user = await signUp(server());
    writeFileSync(
      join(project, 'use.mjs'),
      `import { ApiProblem, createTaskClient, ok, sync } from '${NAME}';
const api = createTaskClient({ baseUrl: process.env.BASE_URL });
await api.login(process.env.EMAIL, process.env.PASSWORD);
const created = await ok(api.POST('/tasks', { body: { title: 'Installed from the tarball' } }));
const page = await ok(api.GET('/tasks', { params: { query: { limit: 5 } } }));
const refused = await ok(api.POST('/tasks', { body: { title: '' } })).catch((error) => error);
const synced = [];
await sync(api, undefined, { upsert: (task) => synced.push(task), delete: () => {}, reset: () => {} });
console.log(JSON.stringify({ created, page, synced, problem: refused instanceof ApiProblem ? refused.status : String(refused) }));
`,
    );
    const env = { PATH: process.env.PATH, BASE_URL: server().baseUrl, EMAIL: user.email, PASSWORD: user.password };
    const { stdout } = await run('node', ['use.mjs'], { cwd: project, env });
    const { created, page, synced, problem } = JSON.parse(stdout) as {
      created: { id: string; owner_id: string };
      page: { total: number; items: unknown[] };
      synced: unknown[];
      problem: number;
    };
    expect(created.owner_id).toBe(user.id);
    expect(page).toMatchObject({ total: 1, items: [created] });
    expect(synced).toEqual([created]);
    expect(problem).toBe(422);
  });

  it.each(['nodenext', 'bundler'])('type-checks with tsc --strict (moduleResolution %s), and its types catch mistakes', async (resolution) => {
    writeFileSync(
      join(project, 'use.ts'),
      `import { createTaskClient, ok, type Label, type Task } from '${NAME}';
const api = createTaskClient({ baseUrl: 'http://localhost:8000' });
export async function titles(): Promise<string[]> {
  const page = await ok(api.GET('/tasks', { params: { query: { status: 'todo', limit: 20 } } }));
  const first: Task | undefined = page.items[0];
  const planned: { due: string | null; priority: 'none' | 'low' | 'medium' | 'high' | 'urgent'; labels: string[] } | undefined =
    first && { due: first.due_at, priority: first.priority, labels: first.labels };
  const labels: Label[] = (await ok(api.GET('/labels'))).items;
  // @ts-expect-error: no such path
  await api.GET('/no-such-path');
  // @ts-expect-error: status is an enum
  await api.GET('/tasks', { params: { query: { status: 'later' } } });
  // @ts-expect-error: priority is an enum
  await api.GET('/tasks', { params: { query: { priority: 'critical', label: 'finance' } } });
  // @ts-expect-error: title is required
  await api.POST('/tasks', { body: { description: 'no title' } });
  return first ? [first.title, String(planned?.due), ...labels.map((label) => label.name)] : [];
}
`,
    );
    const module = resolution === 'bundler' ? 'esnext' : 'nodenext';
    // Exits non-zero, with the errors on stdout, on any type error or unused @ts-expect-error.
    await run(TSC, ['--strict', '--noEmit', '--target', 'es2022', '--module', module, '--moduleResolution', resolution, 'use.ts'], { cwd: project });
  });
});
