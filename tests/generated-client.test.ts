// Other teams generate their own clients from generated/openapi.yaml. One npm generator,
// @hey-api/openapi-ts (a pinned devDependency), stands for them: its client must come out of our
// spec clean under strict tsc, and work against the server.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

const run = promisify(execFile);

// Uses the generated SDK as an app would: configure the client, log in, create, list, and list labels.
const USE = `import { client } from './client/client.gen.js';
import { createTask, listLabels, listTasks, login, type Label, type Task } from './client/index.js';

export async function tryIt(baseUrl: string, email: string, password: string): Promise<{ created: Task; listed: Task[]; labels: Label[]; refused: number }> {
  client.setConfig({ baseUrl });
  const tokens = await login({ body: { email, password }, throwOnError: true });
  client.setConfig({ baseUrl, auth: tokens.data.access_token });
  const body = { title: 'Made by a generated client', due_at: '2026-11-30T18:00:00+01:00', priority: 'high', labels: ['Finance'] } as const;
  const created = await createTask({ body: { ...body, labels: [...body.labels] }, throwOnError: true });
  const listed = await listTasks({ query: { limit: 10, status: 'todo', label: 'finance', sort: 'due_at' }, throwOnError: true });
  const labels = await listLabels({ throwOnError: true });
  const refused = await createTask({ body: { title: '' } });
  return { created: created.data, listed: listed.data.items, labels: labels.data.items, refused: refused.response.status };
}
`;

describe('a client generated with @hey-api/openapi-ts', () => {
  const server = useServer();
  const dir = mkdtempSync(join(tmpdir(), 'generated-client-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    // `./`: a bare relative path would be read as a Hey API registry name.
    await run('node_modules/.bin/openapi-ts', ['-i', './generated/openapi.yaml', '-o', join(dir, 'client'), '-c', '@hey-api/client-fetch', '--no-log-file', '-s']);
    writeFileSync(join(dir, 'use.ts'), USE);
  }, 60_000);

  it('type-checks with tsc --strict', async () => {
    const tsc = join(process.cwd(), 'node_modules/.bin/tsc');
    // A browser project's libs (as Vite's template sets them). Exits non-zero on any type error.
    await run(tsc, ['--strict', '--noEmit', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom,dom.iterable', 'use.ts'], { cwd: dir });
  });

  it('logs in, creates and lists a task with planning fields against the server, lists its labels, and sees a 422', async () => {
    const user = await signUp(server());
    type Result = { created: { id: string; owner_id: string; due_at: string | null }; listed: unknown[]; labels: unknown[]; refused: number };
    const { tryIt } = (await import(join(dir, 'use.ts'))) as { tryIt: (baseUrl: string, email: string, password: string) => Promise<Result> };
    const { created, listed, labels, refused } = await tryIt(server().baseUrl, user.email, user.password);
    expect(created).toMatchObject({ owner_id: user.id, due_at: '2026-11-30T17:00:00.000Z' });
    expect(listed).toEqual([created]);
    expect(labels).toEqual([{ name: 'Finance', count: 1 }]);
    expect(refused).toBe(422);
  });
});
