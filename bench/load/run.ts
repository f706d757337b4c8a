// make bench-load: the production API and its floor on one freshly seeded PostgreSQL database,
// driven endpoint by endpoint at each worker count, rounds alternating between them; prints one
// table per worker count and writes everything as JSON under bench/results/. Knobs: settings.ts.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { runAutocannon, runWrk, type Load, type Measurement, type RequestPlan } from './clients.js';
import { migrate, PASSWORD, recreateDatabase, seed, serverVersion, type Fixtures } from './database.js';
import { freePort, sampleRss, startTarget, type ProcessRss, type Target, type TargetName } from './processes.js';
import { formatProfile, summariseProfile, type ProfileSummary } from './profile.js';
import { checks, medianRps, summaryLines, table, targetTable, type Growth, type PeakRss, type ScenarioResult, type WorkerRun } from './report.js';
import { openSession, scenarios, type Scenario, type Session } from './scenarios.js';
import { settings } from './settings.js';

const started = Date.now();
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = resolve(settings.resultsDir, stamp);
mkdirSync(runDir, { recursive: true });
const secretKey = randomBytes(32).toString('hex');
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
const say = (text: string) => console.log(`[${elapsed().padStart(5)}] ${text}`);

function wrkVersion(): string {
  try {
    return execFileSync('wrk', ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? '').split('\n')[0]!.replace(/ Copyright.*/, '');
  }
}

async function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: await serverVersion(settings.databaseUrl),
    client: settings.client === 'wrk' ? wrkVersion() : 'autocannon 9',
    loadAverageAtStart: os.loadavg().map((n) => Number(n.toFixed(2))),
  };
}

/** Variables named BENCH_API_X are passed to the API as X, for trying its own knobs. */
const apiOverrides = () =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_API_')).map(([k, v]) => [k.slice('BENCH_API_'.length), v]));

function serverEnv(workers: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    SECRET_KEY: secretKey,
    DATABASE_URL: settings.databaseUrl,
    DATABASE_POOL_MAX: String(settings.poolMax),
    WEB_CONCURRENCY: String(workers),
    BCRYPT_ROUNDS: String(settings.bcryptRounds),
    // Tokens minted at the start of a run must outlive it.
    ACCESS_TOKEN_TTL: '86400',
    LOG_LEVEL: 'warn',
  };
}

// Limits that would turn a load test into a test of the limits.
const UNLIMITED = {
  AUTH_RATE_LIMIT: '0',
  LOGIN_MAX_FAILURES: '1000',
  PASSWORD_RATE_LIMIT: '0',
  USER_WRITE_RATE_LIMIT: '0',
  USER_CONCURRENCY_LIMIT: '0',
  USER_READ_RATE_LIMIT: '0',
};

/** The API starts as `npm start` starts it (node's flags included), without npm in between. */
const npmStartArgs = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start.split(' ').slice(1);

/** How many bcrypt checks one API process runs at a time: the bound of src/auth/passwords.ts. */
const passwordChecksAtOnce = () => Math.min(Math.max(1, os.availableParallelism() - 1), 4);

async function startTargets(workers: number, apiArgs: string[] = []) {
  const env = serverEnv(workers);
  const start = async (name: TargetName, args: string[], extra: NodeJS.ProcessEnv = {}) =>
    startTarget(name, args, { ...env, ...extra }, await freePort(), join(runDir, `${name}-${workers}.log`));
  const launched = await Promise.allSettled([
    start('api', [...apiArgs, ...npmStartArgs], { ...UNLIMITED, ...apiOverrides() }),
    start('floor', ['dist/bench/load/floor.js']),
    // One API process checks passwords on the cores its queue may use (src/auth/passwords.ts), so at
    // one worker bcrypt alone runs as many checks at a time; with more, each process runs freely.
    start('bcrypt', ['dist/bench/load/bcrypt-server.js'], { BENCH_PASSWORD: PASSWORD, ...(workers === 1 ? { BENCH_BCRYPT_PARALLEL: String(passwordChecksAtOnce()) } : {}) }),
  ]);
  const failed = launched.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(launched.map((s) => s.status === 'fulfilled' && s.value.stop()));
    throw failed.reason;
  }
  const [api, floor, bcrypt] = launched.map((s) => (s as PromiseFulfilledResult<Target>).value);
  return { api: api!, floor: floor!, bcrypt: bcrypt! };
}

function measure(target: Target, plan: RequestPlan, load: Load): Promise<Measurement> {
  return settings.client === 'wrk' && load.rate === undefined
    ? runWrk(target.url, plan, load, settings.wrkThreads, runDir)
    : runAutocannon(target.url, plan, load);
}

function mergeRss(into: PeakRss[], more: ProcessRss[]): PeakRss[] {
  const byPid = new Map(into.map((p) => [p.pid, p]));
  for (const { pid, role, maxMb } of more) byPid.set(pid, { pid, role, maxMb: Math.max(maxMb, byPid.get(pid)?.maxMb ?? 0) });
  return [...byPid.values()];
}

/** Shape of a JSON value: keys and types, arrays by their first item. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length > 0 ? [shape(value[0])] : [];
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape((value as Record<string, unknown>)[k])]));
  return value === null ? 'null' : typeof value;
}

async function answer(target: Target, plan: RequestPlan) {
  const body = plan.refreshTokens ? JSON.stringify({ refresh_token: plan.refreshTokens[0] }) : plan.bodies?.[0];
  const res = await fetch(`${target.url}${plan.paths[0]}`, { method: plan.method, headers: plan.headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * One request of the scenario to the API and to the floor: the same status, and for reads the same
 * body (cursors are opaque: only whether there is one counts), for writes the same shape.
 */
async function compareAnswers(scenario: Scenario, targets: Record<TargetName, Target>, sessions: Record<TargetName, Session>, fixtures: Fixtures) {
  const plans = await Promise.all([scenario.plan(sessions.api, fixtures, 1), scenario.plan(sessions.floor, fixtures, 1)]);
  const [api, floor] = await Promise.all([answer(targets.api, plans[0]), answer(targets.floor, plans[1])]);
  for (const a of [api, floor]) for (const opaque of ['next_cursor', 'next_since']) if (opaque in a.body) a.body[opaque] = typeof a.body[opaque];
  // Until the API pages by cursor, the floor's next_cursor is its one extra field.
  if (!('next_cursor' in api.body)) delete floor.body.next_cursor;
  const seen = (a: typeof api) => JSON.stringify({ status: a.status, body: plans[0].method === 'GET' ? a.body : shape(a.body) });
  return seen(api) === seen(floor) ? undefined : `API ${seen(api)}, floor ${seen(floor)}`;
}

async function runScenario(run: SubjectRuns, scenario: Scenario, subject: TargetName, load: Load) {
  const { targets, sessions, fixtures } = run;
  const plan = await scenario.plan(sessions[subject], fixtures, load.connections);
  const sampler = sampleRss(targets[subject]);
  const m = await measure(targets[subject], plan, load);
  const rss = sampler.stop();
  const result = (run.results.get(scenario.id)!.subjects[subject] ??= { rounds: [], rss: [] });
  result.rss = mergeRss(result.rss, rss);
  if (subject === 'api') run.apiRss = mergeRss(run.apiRss, rss);
  return { m, result };
}

interface SubjectRuns {
  targets: Record<TargetName, Target>;
  sessions: Record<TargetName, Session>;
  fixtures: Fixtures;
  results: Map<string, ScenarioResult>;
  apiRss: PeakRss[];
}

const selected = () => scenarios.filter((s) => !settings.only || settings.only.includes(s.id));

/** The offered load of the latency pass: a fraction of the API's maximum, shared by the listings compared with each other. */
function fixedRate(results: Map<string, ScenarioResult>, scenario: Scenario): number {
  const grouped = ['list-small', 'list-big', 'list-cursor'];
  const ids = grouped.includes(scenario.id) ? grouped : [scenario.id];
  const maxima = ids.map((id) => medianRps(results.get(id)?.subjects.api)).filter((n): n is number => n !== undefined);
  return Math.max(1, Math.round(settings.fixedLoad * Math.min(...maxima)));
}

async function runWorkers(workers: number, fixtures: Fixtures): Promise<WorkerRun> {
  say(`${workers} worker process(es): starting the API, the floor and bcrypt alone`);
  const targets = await startTargets(workers);
  try {
    const [api, floor] = await Promise.all([openSession(targets.api.url, fixtures), openSession(targets.floor.url, fixtures)]);
    const sessions: Record<TargetName, Session> = { api, floor, bcrypt: { url: targets.bcrypt.url, bearer: { small: '', big: '', writer: '' } } };
    const run: SubjectRuns = { targets, sessions, fixtures, results: new Map(), apiRss: [] };
    const chosen = selected();
    for (const scenario of chosen) {
      const skipped = scenario.skip?.(api);
      run.results.set(scenario.id, { id: scenario.id, label: scenario.label, subjects: {}, ...(skipped ? { skipped } : {}) });
      if (!skipped) run.results.get(scenario.id)!.shapeMismatch = await compareAnswers(scenario, targets, sessions, fixtures);
    }
    const active = chosen.filter((s) => !run.results.get(s.id)!.skipped);

    for (const scenario of active) {
      const connections = scenario.connections(settings);
      if (settings.warmup > 0) {
        for (const subject of scenario.subjects) {
          const { m, result } = await runScenario(run, scenario, subject, { connections, seconds: settings.warmup });
          result.warmup = m;
        }
      }
      for (let round = 0; round < settings.rounds; round++) {
        // API first in even rounds, last in odd ones: a drifting machine favours neither side.
        const order = round % 2 === 0 ? scenario.subjects : [...scenario.subjects].reverse();
        for (const subject of order) {
          const { m, result } = await runScenario(run, scenario, subject, { connections, seconds: settings.duration });
          result.rounds.push(m);
          say(`${workers}w ${scenario.id} round ${round + 1} ${subject}: ${m.rps.toFixed(0)} req/s, p99 ${m.p99.toFixed(1)} ms, errors ${m.errors + m.non2xx}`);
        }
      }
    }

    // autocannon runs in this process: let it load and warm up before its first measured pass.
    await runAutocannon(targets.floor.url, { method: 'GET', paths: ['/healthz'], headers: {} }, { connections: 4, seconds: 1 });
    for (const scenario of active.filter((s) => s.latencyTargets || settings.fixedAll)) {
      const rate = fixedRate(run.results, scenario);
      for (const subject of scenario.subjects) {
        const { m, result } = await runScenario(run, scenario, subject, { connections: scenario.connections(settings), seconds: settings.fixedDuration, rate });
        result.fixed = m;
        say(`${workers}w ${scenario.id} at ${rate} req/s ${subject}: got ${m.rps.toFixed(0)}, p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms`);
      }
    }

    const growth = await measureGrowth(run);
    return { workers, scenarios: [...run.results.values()], apiRss: run.apiRss, growth };
  } finally {
    await Promise.all(Object.values(targets).map((t) => t.stop()));
  }
}

/** Two identical runs of one listing on the API, comparing each process's median RSS during each. */
async function measureGrowth(run: SubjectRuns): Promise<Growth | undefined> {
  const scenario = scenarios.find((s) => s.id === 'list-big')!;
  if (settings.only && !settings.only.includes(scenario.id)) return undefined;
  const plan = await scenario.plan(run.sessions.api, run.fixtures, settings.connections);
  const once = async () => {
    const sampler = sampleRss(run.targets.api);
    await measure(run.targets.api, plan, { connections: settings.connections, seconds: settings.growthDuration });
    return sampler.stop();
  };
  const first = await once();
  const second = await once();
  const processes = second.map((p) => ({ pid: p.pid, role: p.role, firstMb: first.find((q) => q.pid === p.pid)?.medianMb ?? 0, secondMb: p.medianMb }));
  say(`median RSS in two identical runs: ${processes.map((p) => `${p.firstMb.toFixed(0)} → ${p.secondMb.toFixed(0)} MB`).join(', ')}`);
  return { label: scenario.label, seconds: settings.growthDuration, processes };
}

async function prepare(): Promise<Fixtures> {
  say(`recreating ${new URL(settings.databaseUrl).pathname.slice(1)} and migrating it with the API's migrations`);
  await recreateDatabase(settings.databaseUrl);
  await migrate({ ...serverEnv(1), WEB_CONCURRENCY: '1' });
  const fixtures = await seed(settings.databaseUrl, settings);
  say(`seeded ${fixtures.counts.users} users and ${fixtures.counts.tasks} tasks (owners of ${fixtures.counts.small}, ${fixtures.counts.big} and ${fixtures.counts.writer})`);
  return fixtures;
}

function describeLoad(): string {
  const client = settings.client === 'wrk' ? `wrk, ${settings.wrkThreads} thread` : 'autocannon';
  return (
    `${client} × ${settings.connections} connections (logins ${settings.loginConnections}); ${settings.rounds} alternating rounds of ${settings.duration} s after ${settings.warmup} s of warm-up; ` +
    `req/s and "at max" latencies are the median round, "API ÷ floor" the median of each round's ratio. "At fixed load": autocannon, ${settings.fixedDuration} s, ` +
    `${settings.fixedLoad} × the API's maximum offered to both (the three listings compared with each other share the lowest)` +
    `${settings.fixedAll ? '' : ', for the endpoints whose targets are latencies (BENCH_FIXED_ALL=1 for all)'}. ` +
    'RSS: peak per process over the API\'s runs (primary / workers).'
  );
}

async function profileRun(fixtures: Fixtures): Promise<ProfileSummary[]> {
  const scenario = scenarios.find((s) => s.id === settings.profileScenario);
  if (!scenario) throw new Error(`BENCH_PROFILE_SCENARIO must be one of ${scenarios.map((s) => s.id).join(', ')}`);
  const dir = join(runDir, 'profile');
  mkdirSync(dir, { recursive: true });
  say(`profiling the API (${settings.profileWorkers} workers) under ${scenario.label} for ${settings.profileDuration} s`);
  const targets = await startTargets(settings.profileWorkers, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  let workerPids: number[];
  try {
    const session = await openSession(targets.api.url, fixtures);
    const plan = await scenario.plan(session, fixtures, scenario.connections(settings));
    const pids = targets.api.pids();
    workerPids = pids.length === 1 ? pids : pids.slice(1);
    const m = await measure(targets.api, plan, { connections: scenario.connections(settings), seconds: settings.profileDuration });
    say(`${m.rps.toFixed(0)} req/s under the profiler, errors ${m.errors + m.non2xx}`);
  } finally {
    await Promise.all(Object.values(targets).map((t) => t.stop()));
  }
  // Node names each file CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; the first 2 s are warm-up.
  const files = readdirSync(dir).filter((f) => workerPids.includes(Number(f.split('.')[3])));
  return files.map((f) => summariseProfile(join(dir, f), Math.max(1, settings.profileDuration - 2)));
}

const fixtures = await prepare();
const about = await machine();
const file = join(runDir, 'results.json');
if (settings.profile) {
  const summaries = await profileRun(fixtures);
  for (const s of summaries) console.log(`\n${formatProfile(s)}`);
  writeFileSync(file, JSON.stringify({ machine: about, settings, profiles: summaries }, null, 2));
} else {
  const runs: WorkerRun[] = [];
  for (const workers of settings.workers) runs.push(await runWorkers(workers, fixtures));
  const describe = describeLoad();
  console.log(`\n## Load benchmark, ${new Date().toISOString().slice(0, 10)}: ${about.cpu}, ${about.cores} cores, ${about.memoryGb} GB; ` +
    `Node ${about.node}, PostgreSQL ${about.postgres}, ${about.client}; load average ${about.loadAverageAtStart.join(' ')} at the start\n`);
  for (const run of runs) console.log(`${table(run, describe)}\n`);
  console.log(`### Targets of issue 18 (ratios to the prepared floor, this run)\n\n${targetTable(runs)}\n`);
  const report = runs.map((run) => ({
    ...run,
    checks: Object.fromEntries(run.scenarios.filter((s) => !s.skipped).map((s) => [s.id, checks(run, s)])),
    summary: summaryLines(run),
  }));
  writeFileSync(file, JSON.stringify({ machine: { ...about, loadAverageAtEnd: os.loadavg() }, settings, fixtures: fixtures.counts, runs: report }, null, 2));
}
copyFileSync(file, resolve(settings.resultsDir, 'latest.json'));
say(`done; figures in ${file} (and ${settings.resultsDir}/latest.json), server logs beside it`);
