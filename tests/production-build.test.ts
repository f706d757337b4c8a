import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTaskClient, ok } from '../src/client/index.js';
import { freePort } from './support/conformance-proxy.js';
import { createTestDatabase, databaseEnv, type TestDatabase } from './support/database.js';
import { answersOk } from './support/main-process.js';

// What the Docker image's runtime stage holds, without Docker: the compiled build beside
// `npm ci --omit=dev`, run with npm's scripts in production. `make test-production` (part of
// `make test`) runs it once: it builds and installs, so it is skipped in the other runs.
const enabled = process.env.TEST_PRODUCTION_BUILD === '1';
const exec = promisify(execFile);

describe.skipIf(!enabled)('the compiled build with production dependencies only', () => {
  const app = mkdtempSync(join(tmpdir(), 'tm-production-'));
  let db: TestDatabase | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    await exec('npm', ['run', 'build']);
    for (const file of ['package.json', 'package-lock.json', 'dist']) cpSync(file, join(app, file), { recursive: true });
    await exec('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app });
    const base = { PATH: process.env.PATH!, NODE_ENV: 'production', SECRET_KEY: 'p'.repeat(40), LOG_LEVEL: 'warn', BCRYPT_ROUNDS: '4' };
    if (process.env.TEST_DATABASE_URL) {
      db = await createTestDatabase();
      env = { ...base, ...databaseEnv(db), WEB_CONCURRENCY: '2' };
    } else {
      env = { ...base, ALLOW_EMBEDDED_DATABASE: 'true', DATA_DIR: join(app, 'data') };
    }
  }, 300_000);
  afterAll(async () => {
    await db?.destroy();
    rmSync(app, { recursive: true, force: true });
  });

  const npm = (args: string[], extra: Record<string, string> = {}) =>
    exec('npm', ['--silent', ...args], { cwd: app, env: { ...env, ...extra } }).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
    );

  it('installs no build-time tool', () => {
    for (const tool of ['typescript', 'tsx', 'vitest', '@stoplight/prism-cli', '@redocly/cli', 'dockerfile-ast']) {
      expect(existsSync(join(app, 'node_modules', tool)), tool).toBe(false);
    }
    expect(existsSync(join(app, 'node_modules', 'prom-client'))).toBe(true);
  });

  it('refuses to serve a database whose schema is behind the build, naming the migrate command', async () => {
    const { code, output } = await npm(['start']);
    expect(code).toBe(1);
    expect(output).toMatch(/schema is behind this build: run the migrations first \(npm run migrate/);
  }, 60_000);

  it("migrates with npm run migrate, then serves as node dist/src/main.js (the image's CMD) and stops cleanly on SIGTERM", async () => {
    expect(await npm(['run', 'migrate'])).toMatchObject({ code: 0, output: expect.stringMatching(/^applied \d+ migration\(s\):\n {2}2026/) });
    expect(await npm(['run', 'migrate'])).toMatchObject({ code: 0, output: expect.stringContaining('database schema is up to date') });
    const port = await freePort();
    // As the Dockerfile's CMD: node itself, so that SIGTERM reaches it.
    const child = spawn('node', ['dist/src/main.js'], { cwd: app, env: { ...env, PORT: String(port) }, stdio: 'ignore' });
    try {
      const baseUrl = `http://127.0.0.1:${port}`;
      expect(await answersOk(`${baseUrl}/readyz`, 90_000)).toBe(true);
      const client = createTaskClient({ baseUrl });
      await ok(client.POST('/auth/register', { body: { email: 'prod@example.com', password: 'correct-horse-battery' } }));
      await client.login('prod@example.com', 'correct-horse-battery');
      expect(await ok(client.GET('/auth/me'))).toMatchObject({ email: 'prod@example.com' });
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 150_000);

  it('rolls back one migration with npm run migrate:rollback, and migrates forward again', async () => {
    const { code, output } = await npm(['run', 'migrate:rollback']);
    expect(code).toBe(0);
    expect(output).toMatch(/rolled back 2026\d+_\w+/);
    expect((await npm(['start'])).code).toBe(1);
    expect((await npm(['run', 'migrate'])).code).toBe(0);
  }, 90_000);
});
