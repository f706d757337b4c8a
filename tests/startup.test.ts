import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createTaskClient, ok } from '../src/client/index.js';

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
      let ready = false;
      for (let i = 0; i < 100 && !ready; i++) {
        ready = await fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false);
        if (!ready) await sleep(200);
      }
      expect(ready).toBe(true);
      const client = createTaskClient({ baseUrl });
      await client.login(admin.email, admin.password);
      expect(await ok(client.GET('/auth/me'))).toMatchObject({ email: admin.email, role: 'admin' });
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
