// What is measured: each endpoint of the issue, as the same requests to the API and to its floor.
import type { RequestPlan } from './clients.js';
import { LABEL, PASSWORD, type Fixtures } from './database.js';
import type { TargetName } from './processes.js';
import type { Settings } from './settings.js';

interface TokenPair {
  access_token: string;
  refresh_token: string;
}

/** What a target's scenarios need from it: bearer tokens minted through its own login, and where its pages are. */
export interface Session {
  url: string;
  bearer: { small: string; big: string; writer: string };
  /** A cursor after the big owner's 5 000th task, when the target's listing returns next_cursor. */
  deepCursor?: string;
  /** The small owner's change feed position once caught up, when the target has GET /tasks/changes. */
  caughtUp?: string;
}

export const DEEP = 5000;

async function post<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

const login = (url: string, email: string) => post<TokenPair>(`${url}/auth/login`, { email, password: PASSWORD });

/** `count` fresh refresh tokens, each heading its own session, eight logins at a time. */
export async function mintRefreshTokens(url: string, email: string, count: number): Promise<string[]> {
  const tokens: string[] = [];
  let started = 0;
  const next = async () => {
    while (started < count) {
      started++;
      tokens.push((await login(url, email)).refresh_token);
    }
  };
  await Promise.all(Array.from({ length: 8 }, next));
  return tokens;
}

/** Follows next_cursor from the first page to the one after `depth` items; undefined if the listing has no cursors. */
async function cursorAt(url: string, bearer: string, depth: number): Promise<string | undefined> {
  let cursor: string | undefined;
  for (let seen = 0; seen < depth; seen += 100) {
    const query = cursor ? `limit=100&cursor=${encodeURIComponent(cursor)}` : 'limit=100';
    const res = await fetch(`${url}/tasks?${query}`, { headers: { Authorization: `Bearer ${bearer}` } });
    const page = (await res.json()) as { next_cursor?: unknown };
    if (!res.ok || typeof page.next_cursor !== 'string') return undefined;
    cursor = page.next_cursor;
  }
  return cursor;
}

/** Follows the change feed from nothing until it has everything; undefined if the target has no feed. */
async function caughtUp(url: string, bearer: string): Promise<string | undefined> {
  let since: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const query = since ? `limit=1000&since=${encodeURIComponent(since)}` : 'limit=1000';
    const res = await fetch(`${url}/tasks/changes?${query}`, { headers: { Authorization: `Bearer ${bearer}` } });
    if (!res.ok) return undefined;
    const page = (await res.json()) as { next_since: string; has_more: boolean };
    since = page.next_since;
    if (!page.has_more) return since;
  }
  return undefined;
}

export async function openSession(url: string, fixtures: Fixtures): Promise<Session> {
  const [small, big, writer] = await Promise.all([fixtures.small, fixtures.big, fixtures.writer].map((email) => login(url, email)));
  const bearer = { small: small!.access_token, big: big!.access_token, writer: writer!.access_token };
  return { url, bearer, deepCursor: await cursorAt(url, bearer.big, DEEP), caughtUp: await caughtUp(url, bearer.small) };
}

export interface Scenario {
  id: string;
  label: string;
  /** The API first, then what it is compared with. */
  subjects: TargetName[];
  connections(settings: Settings): number;
  /** Whether its targets compare latencies, which only a fixed offered load makes comparable. */
  latencyTargets?: boolean;
  /** Why it cannot run against this API, if it cannot. */
  skip?(api: Session): string | undefined;
  /** The requests for one run against one target (refresh mints fresh chains for every run). */
  plan(session: Session, fixtures: Fixtures, connections: number): Promise<RequestPlan>;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const json = { 'Content-Type': 'application/json' };
const variants = <T>(n: number, make: (i: number) => T) => Array.from({ length: n }, (_, i) => make(i));
const STATUSES = ['todo', 'in_progress', 'done'];
const listing = (id: string, label: string, path: (s: Session) => string, owner: 'small' | 'big'): Scenario => ({
  id,
  label,
  subjects: ['api', 'floor'],
  connections: (s) => s.connections,
  latencyTargets: id !== 'list-offset',
  plan: async (session) => ({ method: 'GET', paths: [path(session)], headers: bearer(session.bearer[owner]) }),
});

export const scenarios: Scenario[] = [
  listing('list-small', 'GET /tasks?limit=20 (10 tasks)', () => '/tasks?limit=20', 'small'),
  listing('list-big', 'GET /tasks?limit=20 (10 000 tasks)', () => '/tasks?limit=20', 'big'),
  listing('list-offset', `GET /tasks?limit=20&offset=${DEEP}`, () => `/tasks?limit=20&offset=${DEEP}`, 'big'),
  listing('list-due', 'GET /tasks?limit=20&sort=due_at (10 000 tasks)', () => '/tasks?limit=20&sort=due_at', 'big'),
  listing('list-label', `GET /tasks?limit=20&label=${LABEL} (on 3 tasks in 7)`, () => `/tasks?limit=20&label=${LABEL}`, 'big'),
  {
    ...listing('list-cursor', `GET /tasks?limit=20&cursor=… (after ${DEEP})`, (s) => `/tasks?limit=20&cursor=${encodeURIComponent(s.deepCursor!)}`, 'big'),
    skip: (api) => (api.deepCursor ? undefined : "the API's listing returns no next_cursor yet"),
  },
  listing('changes-first', 'GET /tasks/changes?limit=100 (first of 10 000)', () => '/tasks/changes?limit=100', 'big'),
  {
    ...listing('changes-poll', 'GET /tasks/changes?since=… (caught up)', (s) => `/tasks/changes?since=${encodeURIComponent(s.caughtUp!)}`, 'small'),
    skip: (api) => (api.caughtUp ? undefined : 'the API has no change feed'),
  },
  {
    id: 'get',
    label: 'GET /tasks/{id}',
    subjects: ['api', 'floor'],
    connections: (s) => s.connections,
    plan: async (session, fixtures) => ({ method: 'GET', paths: fixtures.readIds.map((id) => `/tasks/${id}`), headers: bearer(session.bearer.big) }),
  },
  {
    id: 'post',
    label: 'POST /tasks',
    subjects: ['api', 'floor'],
    connections: (s) => s.connections,
    plan: async (session) => ({
      method: 'POST',
      paths: ['/tasks'],
      headers: { ...bearer(session.bearer.writer), ...json },
      bodies: variants(100, (i) => JSON.stringify({ title: `Benchmark task ${i}`, description: `Created by the load benchmark, variant ${i}.` })),
    }),
  },
  {
    id: 'put',
    label: 'PUT /tasks/{id}',
    subjects: ['api', 'floor'],
    connections: (s) => s.connections,
    plan: async (session, fixtures) => ({
      method: 'PUT',
      paths: fixtures.writeIds.map((id) => `/tasks/${id}`),
      headers: { ...bearer(session.bearer.writer), ...json },
      bodies: variants(99, (i) => JSON.stringify({ title: `Updated task ${i}`, status: STATUSES[i % 3] })),
    }),
  },
  {
    id: 'refresh',
    label: 'POST /auth/refresh',
    subjects: ['api', 'floor'],
    connections: (s) => s.connections,
    // A chain per connection and a few spare: a chain breaks only on a failed refresh, and each
    // run starts with fresh chains, since those in flight when a run stops are lost.
    plan: async (session, fixtures, connections) => ({
      method: 'POST',
      paths: ['/auth/refresh'],
      headers: json,
      refreshTokens: await mintRefreshTokens(session.url, fixtures.refresher, connections + 4),
    }),
  },
  {
    id: 'login',
    label: 'POST /auth/login',
    subjects: ['api', 'floor', 'bcrypt'],
    connections: (s) => s.loginConnections,
    plan: async (_session, fixtures) => ({
      method: 'POST',
      paths: ['/auth/login'],
      headers: json,
      bodies: fixtures.logins.map((email) => JSON.stringify({ email, password: PASSWORD })),
    }),
  },
];
