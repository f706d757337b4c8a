// One user running the most expensive request it can on many connections, while another user
// lists its tasks (issue 22): shared by tests/user-bounds.test.ts, which asserts on it, and
// bench/greedy-user.ts, which prints its figures with the per-user bounds off and on.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from './app-server.js';
import { createTask } from './tasks.js';
import { signUp, type SignedUp } from './users.js';

/**
 * The costliest title search: every trigram of it is in every title (`Task number …`), so the
 * index yields every candidate row, yet the text itself is in none of them.
 */
const NEVER_MATCHES = 'number task number task number task';

export interface GreedySetting {
  /** The greedy user's tasks, and everyone else's (spread over other owners). */
  ownTasks: number;
  othersTasks: number;
}

export interface Flood {
  greedy: SignedUp;
  bystander: SignedUp;
}

/** Users and tasks, written straight into the table: hundreds of thousands of creates through the API would take minutes. */
export async function seedGreedy(server: TestServer, { ownTasks, othersTasks }: GreedySetting): Promise<Flood> {
  const greedy = await signUp(server);
  const bystander = await signUp(server);
  await createTask(bystander, { title: 'Water the plants' });
  const others = await Promise.all(Array.from({ length: 10 }, () => signUp(server)));
  await server.knex.raw(`insert into tasks (owner_id, title) select ?, 'Task number ' || g from generate_series(1, ?) g`, [greedy.id, ownTasks]);
  await server.knex.raw(
    `insert into tasks (owner_id, title) select (?::uuid[])[1 + g % ?], 'Task number ' || g from generate_series(1, ?) g`,
    [others.map((o) => o.id), others.length, othersTasks],
  );
  await server.knex.raw('vacuum analyze tasks');
  return { greedy, bystander };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function bystanderLatencies({ bystander }: Flood, samples: number) {
  const times: number[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    const { response } = await bystander.client.GET('/tasks');
    times.push(performance.now() - start);
    statuses.push(response.status);
  }
  return { p50: median(times), statuses };
}

export interface FloodFigures {
  /** The bystander's GET /tasks p50, alone and during the flood (ms). */
  quietP50: number;
  floodP50: number;
  /** The bystander's statuses during the flood, and how many of each the greedy user got. */
  bystanderStatuses: number[];
  greedyStatuses: Record<number, number>;
}

/**
 * The bystander's GET /tasks, one after another, first alone and then while `connections` loops
 * each send the greedy user's search as soon as the last answer came, or a 429's Retry-After
 * later. (A client that ignores Retry-After floods with requests that cost a signature check
 * each and no query: what that does is the volume of requests, which tests/floods.test.ts
 * measures for one address; in this one process it would be the test's own client that
 * starves the event loop.)
 */
export async function floodOfSearches(flood: Flood, { connections, samples }: { connections: number; samples: number }): Promise<FloodFigures> {
  await bystanderLatencies(flood, 5); // warm up
  const quiet = await bystanderLatencies(flood, samples);
  const greedyStatuses: Record<number, number> = {};
  let flooding = true;
  // A loop whose request fails (the server closed under it, when a test times out) stops.
  const loops = Array.from({ length: connections }, async () => {
    while (flooding) {
      const answer = await flood.greedy.client.GET('/tasks', { params: { query: { q: NEVER_MATCHES } } }).catch(() => undefined);
      if (!answer) return;
      const { response } = answer;
      greedyStatuses[response.status] = (greedyStatuses[response.status] ?? 0) + 1;
      if (response.status === 429) await sleep(Number(response.headers.get('retry-after')) * 1000);
    }
  });
  // Until every connection has had its first answer: the flood is then at full width.
  while (Object.values(greedyStatuses).reduce((a, b) => a + b, 0) < connections) await sleep(50);
  const during = await bystanderLatencies(flood, samples);
  flooding = false;
  await Promise.all(loops);
  return { quietP50: quiet.p50, floodP50: during.p50, bystanderStatuses: during.statuses, greedyStatuses };
}
