// `make run` from the command to the first answer: a first start on an empty data directory, then
// restarts on the existing one, with the server's own account of where the time went (its
// `start-up phases` debug line). Embedded database, production bcrypt cost, an ADMIN_EMAIL set.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../tests/support/conformance-proxy.js';

const RESTARTS = Number(process.env.BENCH_N ?? 3);
const PHASES = ['boot', 'database', 'migrations', 'admin', 'app'] as const;

interface Start {
  firstAnswerMs: number;
  /** CPU time of the whole process group (make, tsx, the server): what wall time would be on an idle machine, about. */
  cpuMs: number | undefined;
  phases: Partial<Record<(typeof PHASES)[number], number>>;
}

// Linux only: utime + stime (+ reaped children's) of every process in the group, from /proc.
function groupCpuMs(pgid: number): number | undefined {
  let ticks = 0;
  try {
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      // Fields after "pid (comm) ": state ppid pgrp … utime(14) stime(15) cutime(16) cstime(17).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) ticks += [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    }
  } catch {
    return undefined; // no /proc
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

async function startOnce(command: string[], env: Record<string, string>): Promise<Start> {
  const port = await freePort();
  const begin = performance.now();
  const { DATABASE_URL: _unused, ...inherited } = process.env;
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...inherited, PORT: String(port), LOG_LEVEL: 'debug', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: make, tsx and the server stop together
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk)); // shown only if it never answers
  try {
    const deadline = begin + 120_000;
    while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) {
      if (child.exitCode !== null || performance.now() > deadline) throw new Error(`the server did not answer:\n${output}`);
      await sleep(10);
    }
    const firstAnswerMs = performance.now() - begin;
    const cpuMs = groupCpuMs(child.pid!);
    const line = output.split('\n').find((l) => l.includes('"start-up phases"'));
    return { firstAnswerMs, cpuMs, phases: line ? (JSON.parse(line) as { phases_ms: Start['phases'] }).phases_ms : {} };
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
  }
}

const seconds = (ms: number | undefined) => (ms === undefined ? '   -  ' : `${(ms / 1000).toFixed(2).padStart(5)} s`);
function show(label: string, { firstAnswerMs, cpuMs, phases }: Start) {
  const known = PHASES.reduce((sum, phase) => sum + (phases[phase] ?? 0), 0);
  const parts = PHASES.map((phase) => `${phase} ${seconds(phases[phase])}`);
  console.log(`${label.padEnd(26)} first answer ${seconds(firstAnswerMs)} (CPU ${seconds(cpuMs)})   ${parts.join('  ')}  rest ${seconds(firstAnswerMs - known)}`);
}

const median = (starts: Start[]) => [...starts].sort((a, b) => a.firstAnswerMs - b.firstAnswerMs)[Math.floor(starts.length / 2)]!;

const dataDir = mkdtempSync(join(tmpdir(), 'bench-startup-'));
try {
  const env = { DATA_DIR: dataDir, ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: 'a-long-admin-passphrase' };
  console.log(`start-up of make run: embedded database, bcrypt cost 12, ADMIN_EMAIL set; median of ${RESTARTS} restarts`);
  console.log('(boot: node, tsx and imports; rest: make, the tsx launcher, listening and the first request)');
  const bare = performance.now();
  await once(spawn(process.execPath, ['-e', ''], { stdio: 'ignore' }), 'exit');
  console.log(`${'node -e "" (baseline)'.padEnd(26)} ${seconds(performance.now() - bare)}`);
  show('first start, empty .data', await startOnce(['make', '-s', 'run'], env));
  const restarts: Start[] = [];
  for (let i = 0; i < RESTARTS; i++) restarts.push(await startOnce(['make', '-s', 'run'], env));
  show('restart, existing .data', median(restarts));
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
