// Starting and stopping the servers under test, and sampling the memory of each of their processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type TargetName = 'api' | 'floor' | 'bcrypt';

export interface Target {
  name: TargetName;
  url: string;
  /** The primary's pid first, then its workers'. */
  pids(): number[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command may hold spaces and parentheses: the parent pid is the second field after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children.sort((a, b) => a - b);
}

/** Resident memory in MB, or undefined once the process is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

// Whatever happens to the harness, the servers it started do not outlive it.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGTERM');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1));

/**
 * Starts `args` under node and waits until it answers /healthz with all its workers forked. Its
 * output goes to `logFile`; an exit before it is ready fails with that file's name.
 */
export async function startTarget(name: TargetName, args: string[], env: NodeJS.ProcessEnv, port: number, logFile: string): Promise<Target> {
  const log = createWriteStream(logFile);
  const child: ChildProcess = spawn(process.execPath, args, { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  running.add(child);
  child.on('exit', () => running.delete(child));
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const workers = Number(env.WEB_CONCURRENCY ?? 1);
  const pids = () => [child.pid!, ...(workers > 1 ? childrenOf(child.pid!) : [])];

  const deadline = Date.now() + 60_000;
  while (!(await healthy(url)) || pids().length < (workers > 1 ? workers + 1 : 1)) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} while starting; see ${logFile}`);
    if (Date.now() > deadline) throw new Error(`${name} did not become ready in 60 s; see ${logFile}`);
    await sleep(100);
  }
  // /healthz answered by one worker says nothing of the others: give them a moment to listen too.
  if (workers > 1) await sleep(1000);

  return {
    name,
    url,
    pids,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
      // Workers exit on their own once their primary told them to stop; wait for them too.
      for (let i = 0; i < 100 && childrenOf(child.pid!).length > 0; i++) await sleep(100);
      log.end();
    },
  };
}

export interface ProcessRss {
  pid: number;
  role: 'primary' | 'worker' | 'single';
  maxMb: number;
  medianMb: number;
}

/** Samples each process of `target` every `everyMs` until stopped; returns each one's peak and median RSS. */
export function sampleRss(target: Target, everyMs = 250) {
  const samples = new Map<number, { role: ProcessRss['role']; mb: number[] }>();
  const take = () => {
    const pids = target.pids();
    pids.forEach((pid, i) => {
      const mb = rssOf(pid);
      if (mb === undefined) return;
      const entry = samples.get(pid) ?? { role: pids.length === 1 ? 'single' : i === 0 ? 'primary' : 'worker', mb: [] };
      entry.mb.push(mb);
      samples.set(pid, entry);
    });
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop(): ProcessRss[] {
      clearInterval(timer);
      take();
      return [...samples].map(([pid, { role, mb }]) => {
        const sorted = [...mb].sort((a, b) => a - b);
        return { pid, role, maxMb: sorted.at(-1)!, medianMb: sorted[Math.floor(sorted.length / 2)]! };
      });
    },
  };
}
