// The benchmark's database: dropped and created afresh, migrated by the API's own migrations,
// and seeded with set-based SQL (a few seconds for 100 000 tasks).
import { spawn } from 'node:child_process';
import bcrypt from 'bcrypt';
import pg from 'pg';
import type { Settings } from './settings.js';

export const PASSWORD = 'bench-password-1';
/** A label on 3 tasks in 7, seeded in three spellings. */
export const LABEL = 'finance';

export interface Fixtures {
  /** Owners whose listings are measured; nothing writes to their tasks. */
  small: string;
  big: string;
  /** Owner of the tasks that PUT changes and POST adds to. */
  writer: string;
  /** Logs in for the refresh chains: its hash has cost 4, so minting hundreds of sessions is quick. */
  refresher: string;
  /** Accounts the login scenario cycles through, at the benchmark's bcrypt cost. */
  logins: string[];
  /** The big owner's tasks that GET /tasks/{id} cycles through, and the writer's that PUT does. */
  readIds: string[];
  writeIds: string[];
  counts: { users: number; tasks: number; small: number; big: number; writer: number };
}

const LOGIN_ACCOUNTS = 64;
const SMALL = 10;
const BIG = 10_000;
const WRITER = 1_000;
const CYCLED_IDS = 1_000;

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function recreateDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
    await admin.query(`create database ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
}

/** The API's own migrations, from the production build. */
export function migrate(env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/src/cli/migrate.js'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`migrations exited with ${code}`))));
  });
}

export async function seed(url: string, settings: Settings): Promise<Fixtures> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const [slowHash, quickHash] = await Promise.all([bcrypt.hash(PASSWORD, settings.bcryptRounds), bcrypt.hash(PASSWORD, 4)]);
    const email = (name: string) => `${name}@bench.example`;
    const fixtures = {
      small: email('owner-10'),
      big: email('owner-10000'),
      writer: email('writer'),
      refresher: email('refresher'),
      logins: Array.from({ length: LOGIN_ACCOUNTS }, (_, i) => email(`login-${i + 1}`)),
    };
    const named = [fixtures.small, fixtures.big, fixtures.writer, ...fixtures.logins];
    const others = settings.users - named.length - 1;
    await db.query('insert into users (email, password_hash) select unnest($1::text[]), $2', [named, slowHash]);
    await db.query('insert into users (email, password_hash) values ($1, $2)', [fixtures.refresher, quickHash]);
    await db.query(`insert into users (email, password_hash) select 'user-' || i || '@bench.example', $2 from generate_series(1, $1) i`, [others, slowHash]);

    // Distinct timestamps going back from now, a description on every other task, the three
    // statuses; two tasks in three due within ten weeks, the five priorities, and labels in mixed
    // spellings (their keys folded as src/tasks/labels.ts does, which for ASCII is lower()).
    const tasks = (owners: string, count: number) => `
      insert into tasks (owner_id, title, description, status, created_at, updated_at, due_at, priority, labels, label_keys)
      select o.id,
             'Task ' || g || ': ' || (array['write the report', 'review the pull request', 'call the supplier', 'plan the sprint', 'fix the login page'])[1 + g % 5],
             case when g % 2 = 0 then 'Notes for task ' || g || ', long enough to look like what people write here.' end,
             (array['todo', 'in_progress', 'done'])[1 + g % 3],
             now() - g * interval '1 second 7 milliseconds', now() - g * interval '1 second 7 milliseconds',
             case when g % 3 <> 0 then now() + ((g * 7919) % 100000) * interval '1 minute' end,
             (g * 7) % 5, l.labels, array(select lower(x) from unnest(l.labels) x)
      from generate_series(1, ${count}) g join (${owners}) o on o.n = g % o.owners,
           lateral (select string_to_array((array['', 'finance', 'Finance,q4', 'FINANCE,frontend', 'backend', 'design,Q2', 'ops'])[1 + (g * 13) % 7], ',') as labels) l`;
    const one = (address: string) => `select id, 0 as n, 1 as owners from users where email = ${pg.escapeLiteral(address)}`;
    await db.query(tasks(one(fixtures.small), SMALL));
    await db.query(tasks(one(fixtures.big), BIG));
    await db.query(tasks(one(fixtures.writer), WRITER));
    const rest = settings.tasks - SMALL - BIG - WRITER;
    await db.query(tasks(`select id, row_number() over (order by email) - 1 as n, count(*) over () as owners from users where email like 'user-%'`, rest));
    await db.query('vacuum analyze');

    const ids = async (owner: string) =>
      (await db.query<{ id: string }>('select t.id from tasks t join users u on u.id = t.owner_id where u.email = $1 order by t.id limit $2', [owner, CYCLED_IDS])).rows.map((r) => r.id);
    const count = async (sql: string, params: unknown[] = []) => (await db.query<{ n: number }>(sql, params)).rows[0]!.n;
    const ownerCount = (owner: string) => count('select count(*)::int as n from tasks t join users u on u.id = t.owner_id where u.email = $1', [owner]);
    return {
      ...fixtures,
      readIds: await ids(fixtures.big),
      writeIds: await ids(fixtures.writer),
      counts: {
        users: await count('select count(*)::int as n from users'),
        tasks: await count('select count(*)::int as n from tasks'),
        small: await ownerCount(fixtures.small),
        big: await ownerCount(fixtures.big),
        writer: await ownerCount(fixtures.writer),
      },
    };
  } finally {
    await db.end();
  }
}

export async function serverVersion(url: string): Promise<string> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v;
  } finally {
    await db.end();
  }
}
