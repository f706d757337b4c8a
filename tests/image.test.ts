// The Docker image and compose.yaml, run for real with podman (`make image-test`, which builds the
// images first and sets TEST_IMAGE): skipped in the other runs.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTaskClient, ok } from '../src/client/index.js';
import { freePort } from './support/conformance-proxy.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { answersOk } from './support/main-process.js';

const image = process.env.TEST_IMAGE;
const exec = promisify(execFile);
const SECRET_KEY = 'i'.repeat(40);

/** A command's exit code and everything it wrote. */
const run = (command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) =>
  exec(command, args, { ...options, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
  );
const podman = (...args: string[]) => run('podman', args);

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(500);
  }
  return false;
}

describe.skipIf(!image)('the image, run with podman', () => {
  let db: TestDatabase;
  let env: string[];
  const containers: string[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    // The container shares the host's network, where PostgreSQL listens on 127.0.0.1.
    env = ['-e', 'NODE_ENV=production', '-e', `SECRET_KEY=${SECRET_KEY}`, '-e', `DATABASE_URL=${db.databaseUrl}`, '-e', 'BCRYPT_ROUNDS=4'];
  });
  afterAll(async () => {
    for (const name of containers) await podman('rm', '-f', name);
    await db?.destroy();
  });
  const container = (...args: string[]) => podman('run', '--network', 'host', ...env, ...args);

  it('keeps its HEALTHCHECK (Docker format) and runs as the unprivileged node user', async () => {
    const { output } = await podman('image', 'inspect', '--format', '{{json .Config.Healthcheck}} {{.Config.User}}', image!);
    expect(output).toMatch(/"Test":\["CMD","node","-e",.*\/healthz/);
    expect(output.trim().endsWith(' node')).toBe(true);
  });

  it('migrates with its migrate command', async () => {
    const { code, output } = await container('--rm', image!, 'migrate');
    expect(code, output).toBe(0);
    expect(output).toMatch(/^applied \d+ migration\(s\):/);
  }, 120_000);

  it('serves as node (not root), becomes healthy, answers the typed client, and exits 0 on SIGTERM within docker stop\'s 10 s', async () => {
    const port = await freePort();
    const name = `tm-image-test-${port}`;
    containers.push(name);
    const started = await container('-d', '--name', name, '-e', `PORT=${port}`, '-e', 'WEB_CONCURRENCY=2', image!);
    expect(started.code, started.output).toBe(0);
    const baseUrl = `http://127.0.0.1:${port}`;
    const ready = await answersOk(`${baseUrl}/readyz`, 90_000);
    expect(ready, ready ? '' : (await podman('logs', name)).output).toBe(true);
    // The image's own HEALTHCHECK command, run as the engine would.
    expect((await podman('healthcheck', 'run', name)).code).toBe(0);
    const users = await podman('top', name, 'user', 'args');
    expect(users.output).toMatch(/^node\s+node (--\S+ )*dist\/src\/main\.js/m);
    expect(users.output).not.toMatch(/^root/m);

    const client = createTaskClient({ baseUrl });
    await ok(client.POST('/auth/register', { body: { email: 'image@example.com', password: 'correct-horse-battery' } }));
    await client.login('image@example.com', 'correct-horse-battery');
    expect(await ok(client.POST('/tasks', { body: { title: 'Made in a container' } }))).toMatchObject({ title: 'Made in a container' });

    // podman stop: SIGTERM, then SIGKILL after 10 s, as docker stop.
    expect((await podman('stop', name)).code).toBe(0);
    const { output: exit } = await podman('inspect', '--format', '{{.State.ExitCode}}', name);
    expect(exit.trim(), (await podman('logs', name)).output).toBe('0');
    const logs = (await podman('logs', name)).output.trim().split('\n');
    for (const line of logs) expect(() => JSON.parse(line), line).not.toThrow();
    expect(logs.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
  }, 180_000);

  it('rolls back one migration with migrate rollback', async () => {
    const { code, output } = await container('--rm', image!, 'migrate', 'rollback');
    expect(code, output).toBe(0);
    expect(output).toMatch(/rolled back 2026\d+_\w+/);
    expect((await container('--rm', image!, 'migrate')).code).toBe(0);
  }, 120_000);

  it('says in one line, without a stack trace, that a root-owned data directory is not writable', async () => {
    const data = mkdtempSync(join(tmpdir(), 'tm-image-data-'));
    chmodSync(data, 0o755);
    try {
      const { code, output } = await podman('run', '--rm', '-e', 'NODE_ENV=production', '-e', `SECRET_KEY=${SECRET_KEY}`, '-e', 'ALLOW_EMBEDDED_DATABASE=true', '-v', `${data}:/app/.data`, image!);
      expect(code).toBe(1);
      expect(output).toContain('DATA_DIR /app/.data cannot be created or made private by this user (uid 1000): EPERM');
      expect(output).not.toMatch(/^\s+at /m);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  }, 60_000);
});

// compose.yaml through podman's Docker-compatible API, with docker-compose 1.29 as an operator runs it.
describe.skipIf(!image)('compose.yaml, through podman system service and docker-compose', () => {
  const project = mkdtempSync(join(tmpdir(), 'tm-compose-'));
  const socket = join(project, 'podman.sock');
  const name = `tmcompose${process.pid}`;
  let service: ChildProcess;
  let checking = true;
  let healthchecks: Promise<void>;
  let port: number;
  const compose = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    // A loaded machine's podman can take longer than docker-compose's 60 s for one call.
    run('docker-compose', ['-p', name, ...args], { cwd: project, env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket}`, COMPOSE_HTTP_TIMEOUT: '300', ...extra } });

  beforeAll(async () => {
    port = await freePort();
    cpSync('compose.yaml', join(project, 'compose.yaml'));
    symlinkSync(join(process.cwd(), 'docker'), join(project, 'docker'));
    // .env as the README says to make it, with an admin and a port.
    const dotEnv = `${readFileSync('.env.example', 'utf8')}\nSECRET_KEY=${SECRET_KEY}\nADMIN_EMAIL=root@example.com\nADMIN_PASSWORD=a-long-admin-passphrase\nPORT=${port}\nBCRYPT_ROUNDS=4\nSHUTDOWN_DRAIN_SECONDS=1\n`;
    writeFileSync(join(project, '.env'), dotEnv);
    service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { stdio: 'ignore' });
    expect(await until(async () => (await compose(['ps'])).code === 0, 30_000)).toBe(true);
    // The engine runs health checks; podman does it from systemd timers, which this machine lacks.
    // One round after another, never overlapping: a slow round must not pile up behind the next.
    healthchecks = (async () => {
      while (checking) {
        const { output } = await podman('ps', '-q', '--filter', `label=com.docker.compose.project=${name}`);
        for (const id of output.split('\n').filter(Boolean)) await podman('healthcheck', 'run', id);
        await sleep(2000);
      }
    })();
  }, 60_000);
  afterAll(async () => {
    checking = false;
    await healthchecks;
    await compose(['--profile', 'pgbouncer', 'down', '-v', '--timeout', '15']);
    service?.kill('SIGTERM');
    rmSync(project, { recursive: true, force: true });
  }, 120_000);

  const exitCodes = async () => {
    const { output } = await podman('ps', '-a', '--filter', `label=com.docker.compose.project=${name}`, '--format', '{{.Labels}}|{{.ExitCode}}');
    return Object.fromEntries(output.split('\n').filter(Boolean).map((line) => [/com\.docker\.compose\.service:(\w+)/.exec(line)?.[1], Number(line.split('|')[1])]));
  };

  // One start, with the pgbouncer profile (the API through it): a second start without it would
  // repeat PostgreSQL's and the migrations' and double the minutes this takes.
  it('brings up PostgreSQL, the migrations, PgBouncer (healthy) and the API with every setting of .env; the admin it names logs in; each stops with exit 0', async () => {
    const up = await compose(['--profile', 'pgbouncer', 'up', '-d', '--no-build'], { API_DATABASE_HOST: 'pgbouncer', API_DATABASE_PORT: '6432' });
    expect(up.code, up.output).toBe(0);
    const baseUrl = `http://127.0.0.1:${port}`;
    const ready = await answersOk(`${baseUrl}/readyz`, 120_000);
    expect(ready, ready ? '' : (await compose(['logs'])).output).toBe(true);
    const admin = createTaskClient({ baseUrl });
    await admin.login('root@example.com', 'a-long-admin-passphrase');
    expect(await ok(admin.GET('/auth/me'))).toMatchObject({ role: 'admin' });
    expect(await ok(admin.POST('/tasks', { body: { title: 'Through PgBouncer' } }))).toMatchObject({ title: 'Through PgBouncer' });
    expect((await fetch('http://127.0.0.1:9464/metrics')).status).toBe(200);
    const { output: health } = await podman('ps', '--filter', 'label=com.docker.compose.service=pgbouncer', '--filter', `label=com.docker.compose.project=${name}`, '--format', '{{.Status}}');
    expect(health).toContain('healthy');
    const stopped = await compose(['--profile', 'pgbouncer', 'stop']);
    expect(stopped.code, stopped.output).toBe(0);
    expect(await exitCodes()).toMatchObject({ api: 0, migrate: 0, pgbouncer: 0, db: 0 });
  }, 300_000);
});
