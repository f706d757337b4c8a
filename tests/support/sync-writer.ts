// A writer process for tests/sync-guarantee.test.ts: on each `run <ms> <seed> <owners as JSON>` line
// from stdin, it writes to those owners' tasks with plain SQL on CONNECTIONS connections for that
// long, then prints `done <JSON>`: every committed transaction's id and when its COMMIT returned.
// Transactions are short or held open (pg_sleep) while others commit, some roll back, some use
// savepoints, some recreate a deleted task's id or move a task to the other owner.
import { createInterface } from 'node:readline';
import pg from 'pg';

const CONNECTIONS = 3;
const url = process.argv[2]!;

/** mulberry32: a seeded generator, so that a failing round can be told by its seed. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Commit {
  xid: string;
  at: number;
}

const XID = 'pg_current_xact_id()::text as xid';
const ANY_TASK = 'select id from tasks where owner_id = $1 order by random() limit 1';

async function writer(client: pg.Client, rand: () => number, owners: string[], until: number, commits: Commit[], deleted: string[]) {
  const owner = () => owners[Math.floor(rand() * owners.length)]!;
  const title = () => `written by SQL ${Math.floor(rand() * 1e9)}`;
  const statement = async (): Promise<string | undefined> => {
    const pick = rand();
    const who = owner();
    if (pick < 0.35) return (await client.query(`insert into tasks (owner_id, title) values ($1, $2) returning ${XID}`, [who, title()])).rows[0]?.xid;
    if (pick < 0.7) {
      return (await client.query(`update tasks set title = $2, updated_at = greatest(now(), updated_at + interval '1 millisecond') where id = (${ANY_TASK}) returning ${XID}`, [who, title()])).rows[0]?.xid;
    }
    if (pick < 0.85) {
      const { rows } = await client.query(`delete from tasks where id = (${ANY_TASK}) returning id, ${XID}`, [who]);
      if (rows[0]) deleted.push(rows[0].id);
      return rows[0]?.xid;
    }
    if (pick < 0.93 && deleted.length > 0) {
      // The same id again, for the same or the other owner: its tombstone must not hide it.
      const id = deleted.splice(Math.floor(rand() * deleted.length), 1)[0];
      return (await client.query(`insert into tasks (id, owner_id, title) values ($1, $2, $3) on conflict (id) do nothing returning ${XID}`, [id, who, title()])).rows[0]?.xid;
    }
    const other = owners.find((o) => o !== who) ?? who;
    return (await client.query(`update tasks set owner_id = $2 where id = (${ANY_TASK}) returning ${XID}`, [who, other])).rows[0]?.xid;
  };

  while (Date.now() < until) {
    const shape = rand();
    try {
      if (shape < 0.4) {
        const xid = await statement();
        if (xid) commits.push({ xid, at: Date.now() });
        continue;
      }
      await client.query('begin');
      let xid: string | undefined;
      for (let i = 1 + Math.floor(rand() * 3); i > 0; i--) {
        if (rand() < 0.3) {
          await client.query('savepoint s');
          xid = (await statement()) ?? xid;
          await client.query(rand() < 0.5 ? 'release savepoint s' : 'rollback to savepoint s');
        } else {
          xid = (await statement()) ?? xid;
        }
      }
      // Held open while the other connections commit: commits land out of transaction id order.
      if (shape < 0.8) await client.query('select pg_sleep($1)', [rand() * 0.4]);
      if (rand() < 0.15) {
        await client.query('rollback');
      } else {
        await client.query('commit');
        if (xid) commits.push({ xid, at: Date.now() });
      }
    } catch {
      await client.query('rollback').catch(() => undefined);
    }
  }
}

const clients = await Promise.all(
  Array.from({ length: CONNECTIONS }, async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }),
);
console.log('ready');

for await (const line of createInterface({ input: process.stdin })) {
  const [command, ms, seed, owners] = line.split(' ');
  if (command !== 'run') break;
  const rand = random(Number(seed));
  const commits: Commit[] = [];
  const deleted: string[] = [];
  const until = Date.now() + Number(ms);
  await Promise.all(clients.map((client) => writer(client, random(Math.floor(rand() * 2 ** 32)), JSON.parse(owners!), until, commits, deleted)));
  console.log(`done ${JSON.stringify(commits)}`);
}
await Promise.all(clients.map((client) => client.end()));
