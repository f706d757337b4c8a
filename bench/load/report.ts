// The figures of one run: the targets of issue 18 checked against them, one table of the targets and
// one table of figures per worker count.
import type { Measurement } from './clients.js';
import type { ProcessRss, TargetName } from './processes.js';

export type PeakRss = Omit<ProcessRss, 'medianMb'>;

export interface SubjectResult {
  /** Untimed for the figures, but its errors count. */
  warmup?: Measurement;
  rounds: Measurement[];
  fixed?: Measurement;
  /** Peak RSS of each process over this subject's runs of the scenario. */
  rss: PeakRss[];
}

export interface ScenarioResult {
  id: string;
  label: string;
  skipped?: string;
  /** Set when the API's and the floor's answers differ in status or shape. */
  shapeMismatch?: string;
  subjects: Partial<Record<TargetName, SubjectResult>>;
}

export interface Growth {
  label: string;
  seconds: number;
  /** Median RSS of each API process during the first and during the second of two identical runs. */
  processes: { pid: number; role: ProcessRss['role']; firstMb: number; secondMb: number }[];
}

export interface WorkerRun {
  workers: number;
  scenarios: ScenarioResult[];
  apiRss: PeakRss[];
  growth?: Growth;
}

export interface Check {
  target: string;
  figure: string;
  met: boolean;
}

const RSS_LIMIT_MB = 200;
// Issue 18's thresholds, as ratios to the prepared floor (the listings by due date and label keep
// the listing's).
const FLOOR_RATIO = 0.5;
const P99_RATIO = 1.5;
const LOGIN_RATIO = 0.85;
const GROWTH_LIMIT = 0.05;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export const medianRps = (r?: SubjectResult) => (r && r.rounds.length > 0 ? median(r.rounds.map((m) => m.rps)) : undefined);

/** Rounds alternate between the subjects, so a ratio is taken within each round and the median kept. */
export function ratio(a?: SubjectResult, b?: SubjectResult): number | undefined {
  if (!a || !b || a.rounds.length === 0 || a.rounds.length !== b.rounds.length || b.rounds.some((m) => m.rps === 0)) return undefined;
  return median(a.rounds.map((m, i) => m.rps / b.rounds[i]!.rps));
}

const errorsOf = (r?: SubjectResult) => (r ? [r.warmup, ...r.rounds, r.fixed].reduce((n, m) => n + (m ? m.errors + m.non2xx : 0), 0) : 0);

const fix = (n: number | undefined, digits = 0) => (n === undefined ? '—' : n.toFixed(digits));

export function checks(run: WorkerRun, scenario: ScenarioResult): Check[] {
  const { api, floor, bcrypt } = scenario.subjects;
  const byId = (id: string) => run.scenarios.find((s) => s.id === id && !s.skipped);
  const out: Check[] = [];
  const atLeast = (target: string, value: number | undefined, min: number) => {
    if (value !== undefined) out.push({ target, figure: value.toFixed(2), met: value >= min });
  };
  const atMost = (target: string, value: number | undefined, max: number) => {
    if (value !== undefined && Number.isFinite(value)) out.push({ target, figure: value.toFixed(2), met: value <= max });
  };
  const p99Ratio = api?.fixed && floor?.fixed ? api.fixed.p99 / floor.fixed.p99 : undefined;
  const p50Versus = (id: string) => {
    const other = byId(id)?.subjects.api?.fixed;
    return api?.fixed && other && other.offered === api.fixed.offered ? api.fixed.p50 / other.p50 : undefined;
  };
  switch (scenario.id) {
    case 'list-small':
      atLeast(`≥ ${FLOOR_RATIO} × floor`, ratio(api, floor), FLOOR_RATIO);
      atMost(`p99 ≤ ${P99_RATIO} × floor's at one offered load`, p99Ratio, P99_RATIO);
      break;
    case 'list-big':
      atLeast(`≥ ${FLOOR_RATIO} × floor`, ratio(api, floor), FLOOR_RATIO);
      atMost(`p99 ≤ ${P99_RATIO} × floor's at one offered load`, p99Ratio, P99_RATIO);
      atMost("p50 ≤ 2 × 10-task owner's", p50Versus('list-small'), 2);
      break;
    case 'list-cursor':
      atMost("p50 ≤ 2 × first page's", p50Versus('list-big'), 2);
      break;
    case 'list-due':
    case 'list-label':
    case 'get':
    case 'post':
    case 'put':
    case 'refresh':
      atLeast(`≥ ${FLOOR_RATIO} × floor`, ratio(api, floor), FLOOR_RATIO);
      break;
    case 'login':
      atLeast(`≥ ${LOGIN_RATIO} × bcrypt alone${run.workers === 1 ? ' on the cores the worker may use' : ''}`, ratio(api, bcrypt), LOGIN_RATIO);
      break;
  }
  if (api) out.push({ target: '0 errors', figure: String(errorsOf(api)), met: errorsOf(api) === 0 });
  return out;
}

const byRole = (rss: PeakRss[]) => [...rss].sort((a, b) => (a.role === 'primary' ? -1 : b.role === 'primary' ? 1 : a.pid - b.pid));

const rssCell = (rss: PeakRss[]) => (rss.length === 0 ? '—' : byRole(rss).map((p) => p.maxMb.toFixed(0)).join(' / '));

/** p50 / p99 of the median round (by req/s), at the load the server sustains at its maximum. */
const latencies = (r?: SubjectResult) => {
  const rounds = [...(r?.rounds ?? [])].sort((a, b) => a.rps - b.rps);
  const mid = rounds[Math.floor(rounds.length / 2)];
  return fixedLatencies(mid);
};
// A run that completed nothing has no latencies (the clients report 0).
const fixedLatencies = (m?: Measurement) => (m && m.requests > 0 ? `${fix(m.p50, 1)} / ${fix(m.p99, 1)}` : '—');

const sustained = (m?: Measurement) => (m?.offered && m.rps < 0.9 * m.offered ? ` (got ${m.rps.toFixed(0)})` : '');

function rows(run: WorkerRun): string[][] {
  const out: string[][] = [];
  for (const s of run.scenarios) {
    if (s.skipped) continue;
    const { api, floor, bcrypt } = s.subjects;
    const targets = checks(run, s).map((c) => `${c.target}: ${c.met ? 'yes' : '**no**'} (${c.figure})`).join('; ');
    out.push([
      s.label, fix(medianRps(api)), fix(medianRps(floor)), fix(ratio(api, floor), 2), latencies(api),
      fix(api?.fixed?.offered) + sustained(api?.fixed), fixedLatencies(api?.fixed),
      fix(floor?.fixed?.p99, 1) + sustained(floor?.fixed), String(errorsOf(api)), rssCell(api?.rss ?? []), targets,
    ]);
    if (bcrypt) {
      out.push([
        '  bcrypt alone (same cost, connections, processes)', '—', fix(medianRps(bcrypt)), fix(ratio(api, bcrypt), 2), latencies(bcrypt),
        fix(bcrypt.fixed?.offered), '—', fix(bcrypt.fixed?.p99, 1) + sustained(bcrypt.fixed), '—', '—', '',
      ]);
    }
  }
  return out;
}

const HEADER = [
  'endpoint', 'API req/s', 'floor req/s', 'API ÷ floor', 'p50 / p99 ms at max', 'fixed load req/s', 'p50 / p99 ms at fixed load',
  'floor p99 ms at fixed load', 'errors', 'RSS MB per process', 'targets',
];

interface SummaryLine {
  text: string;
  met?: boolean;
  /** For the target table: what is checked, and the figure, apart. */
  target?: string;
  figure?: string;
}

export function summaryLines(run: WorkerRun): SummaryLine[] {
  const lines: SummaryLine[] = [];
  const workers = run.apiRss.filter((p) => p.role !== 'primary');
  if (workers.length > 0) {
    const peak = Math.max(...workers.map((p) => p.maxMb));
    const target = `RSS ≤ ${RSS_LIMIT_MB} MB per worker through the run`;
    const figure = `peak ${peak.toFixed(0)} MB`;
    lines.push({ text: `${target}: ${figure}`, target, figure, met: peak <= RSS_LIMIT_MB });
  }
  if (run.growth) {
    const g = run.growth;
    const changes = g.processes.map((p) => `${p.role} ${p.firstMb.toFixed(0)} → ${p.secondMb.toFixed(0)} MB`).join(', ');
    const grew = g.processes.some((p) => p.secondMb > p.firstMb * (1 + GROWTH_LIMIT));
    const target = `no RSS growth (median during each, ≤ ${GROWTH_LIMIT * 100} %) between two identical ${g.seconds} s runs of ${g.label}`;
    lines.push({ text: `${target}: ${changes}`, target, figure: changes, met: !grew });
  }
  for (const s of run.scenarios) {
    if (s.skipped) lines.push({ text: `skipped ${s.label}: ${s.skipped}` });
    if (s.shapeMismatch) lines.push({ text: `${s.label}: the floor's answer differs from the API's: ${s.shapeMismatch}`, met: false });
  }
  return lines;
}

/** Peak RSS of each API process over the whole run: the primary, then each worker. */
export function rssPerProcess(run: WorkerRun): string {
  return byRole(run.apiRss).map((p) => `${p.role} ${p.maxMb.toFixed(0)}`).join(', ') + ' MB';
}

/** Every target of issue 18 at every worker count measured, each with its figure and whether it is met. */
export function targetTable(runs: WorkerRun[]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const out = [line(['workers', 'endpoint', 'target', 'figure', 'met']), line(['---', '---', '---', '---', '---'])];
  for (const run of runs) {
    for (const s of run.scenarios.filter((x) => !x.skipped)) {
      for (const c of checks(run, s)) out.push(line([String(run.workers), s.label, c.target, c.figure, c.met ? 'met' : '**missed**']));
    }
    for (const l of summaryLines(run).filter((x) => x.met !== undefined)) {
      out.push(line([String(run.workers), 'API processes', l.target ?? l.text, l.figure ?? '', l.met ? 'met' : '**missed**']));
    }
    out.push(line([String(run.workers), 'API processes', 'RSS per process, peak through the run', rssPerProcess(run), '']));
  }
  return out.join('\n');
}

export function table(run: WorkerRun, describe: string): string {
  const body = rows(run);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    `### ${run.workers} worker process${run.workers === 1 ? '' : 'es'}`,
    '',
    describe,
    '',
    line(HEADER),
    line(HEADER.map(() => '---')),
    ...body.map(line),
    '',
    ...summaryLines(run).map((l) => `- ${l.text}${l.met === undefined ? '' : l.met ? ': yes' : ': **no**'}`),
  ].join('\n');
}
