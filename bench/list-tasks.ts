// "One owner's newest tasks" and a title search on a large table: latency through the API, and
// the plans PostgreSQL chooses (they must use the owner index and the trigram index).
import { ok } from '../src/client/index.js';
import { startServer } from '../tests/support/app-server.js';
import { signUp } from '../tests/support/users.js';
import { database, measure, show } from './support.js';

const OWNERS = Number(process.env.BENCH_OWNERS ?? 200);
const PER_OWNER = Number(process.env.BENCH_TASKS_PER_OWNER ?? 500);
const N = Number(process.env.BENCH_N ?? 200);

const server = await startServer({ AUTH_RATE_LIMIT: '0' }, { direct: true });
try {
  const { knex } = server;
  const me = await signUp(server);
  console.log(`seeding ${OWNERS} owners x ${PER_OWNER} tasks on ${database()}…`);
  await knex.raw(
    `insert into users (email, password_hash)
     select 'owner' || i || '@example.com', 'x' from generate_series(1, ?) i`,
    [OWNERS - 1],
  );
  await knex.raw(
    `insert into tasks (owner_id, title, status, created_at, updated_at)
     select u.id, 'task ' || i || ' of ' || u.email, (array['todo','in_progress','done'])[1 + i % 3],
            now() - make_interval(secs => i), now() - make_interval(secs => i)
     from users u, generate_series(1, ?) i`,
    [PER_OWNER],
  );
  await knex.raw('analyze tasks');
  const total = (await knex('tasks').count({ n: '*' }).first())!.n;
  console.log(`tasks in table: ${total}`);

  show('GET /tasks (own newest, limit 20)', await measure(N, () => ok(me.client.GET('/tasks'))));
  show('GET /tasks?offset=400', await measure(N, () => ok(me.client.GET('/tasks', { params: { query: { offset: 400 } } }))));
  show('GET /tasks?q=… (title substring)', await measure(N, () => ok(me.client.GET('/tasks', { params: { query: { q: 'task 4' } } }))));

  const explain = async (label: string, sql: string, bindings: string[]) => {
    const { rows } = await knex.raw(`explain ${sql}`, bindings);
    console.log(`\nEXPLAIN ${label}\n${rows.map((r: Record<string, string>) => `  ${Object.values(r)[0]}`).join('\n')}`);
  };
  await explain('own newest', 'select * from tasks where owner_id = ? order by created_at desc, id desc limit 20', [me.id]);
  await explain('title search across owners', "select * from tasks where title ilike ? order by created_at desc, id desc limit 20", ['%of owner17@%']);
} finally {
  await server.close();
}
