import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The server from its sources (src/main.ts of `cwd`, this checkout by default), with only the
 * variables given plus PATH. Node runs it
 * itself with tsx's loader, so that signals reach the server as in production: the `tsx` command
 * is a parent process that SIGKILLs its child when the child does not acknowledge a relayed
 * signal within 30 ms, which a busy server may not.
 */
export function startMain(env: Record<string, string>, cwd?: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

/** Polls `url` until it answers 200 (true) or `timeoutMs` passes (false). */
export async function answersOk(url: string, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fetch(url).then((r) => r.ok, () => false)) return true;
    await sleep(200);
  }
  return false;
}
