// The commands a developer runs by hand: make migrate, make run (and its logs), npm run dev.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { migrationSource } from '../migrations/index.js';
import { createTaskClient, ok } from '../src/client/index.js';
import { freePort } from './support/conformance-proxy.js';

// One embedded database for the file: only the first start pays for creating it.
const dataDir = mkdtempSync(join(tmpdir(), 'tm-dev-loop-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const SLOW = 120_000; // each test starts a server process from source, on a shared machine

interface Running {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the output matches `pattern` `count` times. */
  waitFor(pattern: RegExp, count?: number): Promise<void>;
}

const running: Running[] = [];
afterEach(async () => {
  for (const { child } of running.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    process.kill(-child.pid!, 'SIGTERM'); // its process group: npm, tsx and the server
    await once(child, 'exit');
  }
});

function run(command: string, args: string[], env: Record<string, string>): Running {
  const { DATABASE_URL: _unset, ...inherited } = process.env;
  const child = spawn(command, args, {
    env: { ...inherited, DATA_DIR: dataDir, NODE_ENV: 'development', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const check of waiters) check();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const started: Running = {
    child,
    output: () => output,
    waitFor: (pattern, count = 1) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if ((output.match(new RegExp(pattern, 'g')) ?? []).length < count) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        child.once('exit', (code) => reject(new Error(`exited with ${code} before ${pattern}:\n${output}`)));
        check();
      }),
  };
  running.push(started);
  return started;
}

const migrate = async () => {
  const migration = run('make', ['-s', 'migrate'], {});
  const [code] = await once(migration.child, 'exit');
  expect(code, migration.output()).toBe(0);
  return migration.output();
};

describe('make migrate', () => {
  it('lists the migrations it applied, then says there is nothing left to apply', { timeout: SLOW }, async () => {
    const names = (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m));
    expect(await migrate()).toBe(`applied ${names.length} migration(s):\n${names.map((name) => `  ${name}\n`).join('')}`);
    expect(await migrate()).toBe('database schema is up to date: no migration to apply\n');
  });
});

describe('make run', () => {
  it('logs readable lines in development, the first naming the URL it serves', { timeout: SLOW }, async () => {
    const port = await freePort();
    const server = run('make', ['-s', 'run'], { PORT: String(port) });
    await server.waitFor(/listening/);
    const line = server.output().split('\n').find((l) => l.includes('listening'))!;
    expect(line).toMatch(new RegExp(`^\\[[\\d:.]+\\] INFO: listening on http://localhost:${port}$`));
  });

  it('logs one JSON object a line in production', { timeout: SLOW }, async () => {
    const port = await freePort();
    const env = { PORT: String(port), NODE_ENV: 'production', ALLOW_EMBEDDED_DATABASE: 'true', SECRET_KEY: 'a-production-secret-of-at-least-32-chars' };
    const server = run('make', ['-s', 'run'], env);
    await server.waitFor(/listening/);
    const lines = server.output().trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toContain(`listening on http://localhost:${port}`);
  });
});

describe('npm run dev', () => {
  it('restarts the server when a source file changes', { timeout: SLOW }, async () => {
    const port = await freePort();
    const dev = run('npm', ['run', '-s', 'dev'], { PORT: String(port), LOG_FORMAT: 'json' });
    await dev.waitFor(/"msg":"listening/);
    const now = new Date();
    utimesSync('src/main.ts', now, now); // a save that changes nothing
    await dev.waitFor(/"msg":"listening/, 2);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});

describe('make run without SMTP_URL', () => {
  it('logs each mail with its link, and the reset link works from the log', { timeout: SLOW }, async () => {
    const port = await freePort();
    const server = run('make', ['-s', 'run'], { PORT: String(port) });
    await server.waitFor(/listening/);
    const api = createTaskClient({ baseUrl: `http://127.0.0.1:${port}` });
    const email = `newcomer-${Date.now()}@example.com`;
    await ok(api.POST('/auth/register', { body: { email, password: 'correct-horse-battery' } }));
    await api.requestPasswordReset(email);
    const link = new RegExp(`http://localhost:${port}/docs#/Auth/confirmPasswordReset/([A-Za-z0-9_-]{43})`);
    await server.waitFor(link);
    const line = server.output().split('\n').find((l) => link.test(l))!;
    expect(line).toMatch(new RegExp(`^\\[[\\d:.]+\\] INFO: mail not sent \\(SMTP_URL is not set\\): "Reset your Task Management password" to ${email}: `));
    await api.confirmPasswordReset(link.exec(line)![1]!, 'a-brand-new-secret');
    await api.login(email, 'a-brand-new-secret');
  });
});
