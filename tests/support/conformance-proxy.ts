import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Prism in front of the server, as an independent judge of every response: with `--errors` a
 * response that breaks the spec becomes a 500 carrying an `sl-violations` header. Requests are
 * not validated by Prism, so the suite's deliberately bad requests still reach our server.
 */
export async function startConformanceProxy(upstream: string): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const child = spawn(
    'node_modules/.bin/prism',
    ['proxy', 'generated/openapi.yaml', upstream, '--errors', '--validate-request=false', '--cors=false', '-h', '127.0.0.1', '-p', String(port), '-v', 'error'],
    { stdio: 'ignore', detached: true },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = () => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  for (let i = 0; i < 150; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) return { url, stop };
    await sleep(100);
  }
  stop();
  throw new Error('prism proxy did not start within 15 s');
}
