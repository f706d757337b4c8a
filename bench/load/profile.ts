// Where a worker's CPU time goes, from a V8 .cpuprofile (node --cpu-prof): the top functions by
// self time, and time by module (npm package, node core area or src/ folder), both self and
// inclusive (a sample counts once for every module on its stack).
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  name: string;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** Busy samples in the window (idle excluded) and the window's length. */
  samples: number;
  seconds: number;
  functions: Share[];
  modulesSelf: Share[];
  modulesInclusive: Share[];
}

const SPECIAL = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

/** The module a frame belongs to; undefined for a native frame, which belongs to its caller's. */
function moduleOf(frame: CallFrame): string | undefined {
  const { url, functionName } = frame;
  if (SPECIAL.has(functionName)) return functionName;
  if (url === '') return undefined;
  if (url.startsWith('node:')) {
    const area = url.slice('node:'.length).replace(/^internal\//, '').replace(/^_/, '').split(/[_/]/)[0]!;
    return `node:${area === 'streams' ? 'stream' : area}`;
  }
  const pkg = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/dist\/src\/([^/]+)/.exec(url);
  if (own) return `src/${own[1]!.replace(/\.js$/, '')}`;
  return url.replace(/^file:\/\//, '');
}

const shortUrl = (url: string) => url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '').replace(/^file:\/\//, '');

function shares(counts: Map<string, number>, total: number, min = 0): Share[] {
  return [...counts]
    .map(([name, n]) => ({ name, percent: (100 * n) / total }))
    .filter((s) => s.percent >= min)
    .sort((a, b) => b.percent - a.percent);
}

/** Summarises the last `windowSeconds` of the profile in `file`. */
export function summariseProfile(file: string, windowSeconds: number, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const moduleCache = new Map<number, string>();
  const moduleOfNode = (id: number): string => {
    let m = moduleCache.get(id);
    if (m === undefined) {
      const node = byId.get(id)!;
      const up = parent.get(id);
      m = moduleOf(node.callFrame) ?? (up === undefined ? '(native)' : moduleOfNode(up));
      moduleCache.set(id, m);
    }
    return m;
  };

  const from = profile.endTime - windowSeconds * 1e6;
  const functions = new Map<string, number>();
  const modulesSelf = new Map<string, number>();
  const modulesInclusive = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  let t = profile.startTime;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i]!;
    const frame = byId.get(id)!.callFrame;
    if (t < from || frame.functionName === '(idle)') return;
    busy++;
    const where = frame.url ? shortUrl(frame.url) : moduleOfNode(id);
    bump(functions, `${frame.functionName || '(anonymous)'}  ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`);
    bump(modulesSelf, moduleOfNode(id));
    const onStack = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) onStack.add(moduleOfNode(n));
    onStack.delete('(root)');
    for (const m of onStack) bump(modulesInclusive, m);
  });
  return {
    file,
    samples: busy,
    seconds: windowSeconds,
    functions: shares(functions, busy).slice(0, top),
    modulesSelf: shares(modulesSelf, busy, 0.5),
    modulesInclusive: shares(modulesInclusive, busy, 1),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const list = (title: string, items: Share[]) => [title, ...items.map((i) => `  ${i.percent.toFixed(1).padStart(5)} %  ${i.name}`)].join('\n');
  return [
    `${s.file}: ${s.samples} busy samples in the last ${s.seconds} s (idle excluded)`,
    list('top functions by self time:', s.functions),
    list('by module, self time:', s.modulesSelf),
    list('by module, inclusive (on the stack):', s.modulesInclusive),
  ].join('\n\n');
}
