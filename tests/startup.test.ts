import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createTaskClient, ok } from '../src/client/index.js';
import { RawConnection } from './support/raw-http.js';

const dataDir = mkdtempSync(join(tmpdir(), 'tm-startup-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

// The server as `make run` starts it, with only the variables given (plus PATH).
function startMain(env: Record<string, string>) {
  const child = spawn('node_modules/.bin/tsx', ['src/main.ts'], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return { child, stderr: () => stderr };
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  return port;
}

// tsx compiling the server and PGlite's first start take seconds, more when the suite's other files
// share the CPU: a minute is for a loaded CI machine, not for this server.
async function waitUntilReady(baseUrl: string) {
  for (let i = 0; i < 300; i++) {
    if (await fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false)) return;
    await sleep(200);
  }
  throw new Error(`${baseUrl} did not become ready`);
}

const refusesConnections = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });

describe('start-up', () => {
  it('stops with a message naming the variable when a value is bad', async () => {
    const { child, stderr } = startMain({ PORT: 'eighty' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stderr()).toMatch(/PORT must be an integer/);
  });

  it('refuses to start in production without SECRET_KEY', async () => {
    const { child, stderr } = startMain({ NODE_ENV: 'production' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stderr()).toMatch(/SECRET_KEY must be set in production/);
  });

  it('migrates the embedded database, creates the first admin, serves, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const admin = { email: 'root@example.com', password: 'a-long-admin-passphrase' };
    const { child } = startMain({ PORT: String(port), ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password, BCRYPT_ROUNDS: '4' });
    try {
      const baseUrl = `http://127.0.0.1:${port}`;
      await waitUntilReady(baseUrl);
      const client = createTaskClient({ baseUrl });
      await client.login(admin.email, admin.password);
      expect(await ok(client.GET('/auth/me'))).toMatchObject({ email: admin.email, role: 'admin' });
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 90_000);

  it('on SIGTERM lets the request in flight finish, refuses new connections, and exits 0 within the grace period', async () => {
    const port = await freePort();
    const { child } = startMain({ PORT: String(port), BCRYPT_ROUNDS: '4', SHUTDOWN_DRAIN_SECONDS: '1' });
    const exited = once(child, 'exit');
    try {
      const baseUrl = `http://127.0.0.1:${port}`;
      await waitUntilReady(baseUrl);
      // In flight: the headers and part of the body are in when the signal comes.
      const body = JSON.stringify({ email: 'in-flight@example.com', password: 'correct-horse-battery' });
      const connection = await RawConnection.open(baseUrl);
      connection.write(`POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      connection.write(body.slice(0, 20));
      await sleep(200);
      const signalled = Date.now();
      child.kill('SIGTERM');
      let refused = false;
      for (let i = 0; i < 50 && !refused; i++) {
        refused = await refusesConnections(port);
        if (!refused) await sleep(100);
      }
      expect(refused, 'new connections are refused').toBe(true);
      connection.write(body.slice(20));
      const res = await connection.response();
      expect(res.status).toBe(201);
      expect(JSON.parse(res.body)).toMatchObject({ email: 'in-flight@example.com' });
      const [code] = await exited;
      expect(code).toBe(0);
      // A 1 s drain, then a 4 s grace; with nothing left in flight the process need not wait for it.
      expect(Date.now() - signalled).toBeLessThan(10_000);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);
});
