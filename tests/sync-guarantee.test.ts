import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, type TaskClient } from '../src/client/index.js';
import type { Commit } from './support/sync-writer.js';
import { useServer, type TestServer } from './support/server.js';
import { Replica, tasksInDatabase } from './support/sync.js';
import { signUp, type SignedUp } from './support/users.js';

// The contract's hardest promise: a client that follows next_since, again and again while others
// create, update and delete its tasks from several processes and instances, holds exactly the
// server's tasks after one more pass once the writes stop, also when transactions commit in
// another order than they began. PostgreSQL only: only there do transactions overlap.
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const server = useServer({ USER_WRITE_RATE_LIMIT: '0', USER_CONCURRENCY_LIMIT: '0', USER_READ_RATE_LIMIT: '0' });

const ROUNDS = 3;
const WRITE_MS = 2_500;
const WRITER_PROCESSES = 2;

/** The seeded writer processes (tests/support/sync-writer.ts), driven a round at a time. */
class WriterProcess {
  private readonly lines: AsyncIterator<string>;
  constructor(private readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }
  static async start(url: string) {
    const child = spawn('node_modules/.bin/tsx', ['tests/support/sync-writer.ts', url], { stdio: ['pipe', 'pipe', 'inherit'] });
    const writer = new WriterProcess(child);
    expect(await writer.next()).toBe('ready');
    return writer;
  }
  private async next() {
    const { value, done } = await this.lines.next();
    if (done) throw new Error('a writer process ended early');
    return value;
  }
  async run(ms: number, seed: number, owners: string[]): Promise<Commit[]> {
    this.child.stdin!.write(`run ${ms} ${seed} ${JSON.stringify(owners)}\n`);
    const line = await this.next();
    return JSON.parse(line.slice('done '.length)) as Commit[];
  }
  stop() {
    this.child.stdin!.end();
    this.child.kill();
  }
}

/** Random creates, updates and deletes through the API, on both instances, until `until`. */
async function writeThroughApi(clients: TaskClient[], until: number) {
  const created: string[] = [];
  while (Date.now() < until) {
    const client = clients[randomInt(clients.length)]!;
    const id = created[randomInt(Math.max(1, created.length))];
    const pick = Math.random();
    if (pick < 0.4 || !id) {
      const { data } = await client.POST('/tasks', { body: { title: `written through the API ${randomInt(1e9)}` } });
      if (data) created.push(data.id);
    } else if (pick < 0.85) {
      // Another writer may have deleted or moved it: 404 is an answer too.
      await client.PUT('/tasks/{id}', { params: { path: { id } }, body: { status: (['todo', 'in_progress', 'done'] as const)[randomInt(3)]! } });
    } else {
      await client.DELETE('/tasks/{id}', { params: { path: { id } } });
    }
  }
}

interface Reading {
  pages: number;
  /** Pages that ended inside a window (has_more), which the next page must finish. */
  pinned: number;
}

/** Follows next_since with small random limits until `stop()` is true; every page holds each task once. */
async function follow(client: TaskClient, replica: Replica, stop: () => boolean, reading: Reading) {
  while (!stop()) {
    const page = await ok(client.GET('/tasks/changes', { params: { query: { since: replica.since, limit: 1 + randomInt(4) } } }));
    const ids = page.changes.map((c) => (c.type === 'upsert' ? c.task.id : c.id));
    expect(new Set(ids).size, 'a task twice in one page').toBe(ids.length);
    replica.apply(page.changes);
    replica.since = page.next_since;
    reading.pages++;
    if (page.has_more) reading.pinned++;
    else await sleep(randomInt(20));
  }
}

/** Pairs of commits where the transaction that began writing later committed first. */
function outOfOrder(commits: Commit[]): number {
  let highest = 0n;
  let count = 0;
  for (const { xid } of [...commits].sort((a, b) => a.at - b.at)) {
    if (BigInt(xid) < highest) count++;
    highest = BigInt(xid) > highest ? BigInt(xid) : highest;
  }
  return count;
}

describe('the change feed under concurrent writers', () => {
  let writers: WriterProcess[] = [];
  let sibling: TestServer | undefined;

  beforeAll(async () => {
    if (!onPostgres) return;
    const url = (server().knex.client.config.connection as { connectionString: string }).connectionString;
    [sibling, ...writers] = await Promise.all([server().sibling(), ...Array.from({ length: WRITER_PROCESSES }, () => WriterProcess.start(url))]);
  });
  afterAll(async () => {
    writers.forEach((w) => w.stop());
    await sibling?.close();
  });

  it.skipIf(!onPostgres)(
    'leaves every reader holding exactly the database, round after round, while commits land out of order',
    async () => {
      const instances = [server(), sibling!];
      let inversions = 0;
      const reading: Reading = { pages: 0, pinned: 0 };
      for (let round = 0; round < ROUNDS; round++) {
        const users: SignedUp[] = [await signUp(server()), await signUp(server())];
        const owners = users.map((u) => u.id);
        // Two readers per owner, one on each instance.
        const readers = users.flatMap((user) => instances.map((via) => ({ user, client: via.client(user.client.tokens), replica: new Replica() })));
        let writing = true;
        const following = readers.map((r) => follow(r.client, r.replica, () => !writing, reading));
        const seeds = writers.map(() => randomInt(2 ** 31));
        const until = Date.now() + WRITE_MS;
        const [commits] = await Promise.all([
          Promise.all(writers.map((w, i) => w.run(WRITE_MS, seeds[i]!, owners))).then((all) => all.flat()),
          ...instances.map((via) => writeThroughApi(users.map((u) => via.client(u.client.tokens)), until)),
        ]);
        writing = false;
        await Promise.all(following);
        inversions += outOfOrder(commits);

        for (const { user, client, replica } of readers) {
          await replica.catchUp(client, 100);
          expect(replica.sorted(), `round ${round}, writer seeds ${seeds.join(', ')}`).toEqual(await tasksInDatabase(server(), user.id));
        }
      }
      // The test is only worth something if it met what it guards against.
      expect(inversions, 'commits that landed out of transaction id order').toBeGreaterThan(0);
      expect(reading.pinned, 'pages that ended inside a window').toBeGreaterThan(0);
    },
    120_000,
  );
});
