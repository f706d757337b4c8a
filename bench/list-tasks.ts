// "One owner's newest tasks" and a title search on a large table: latency through the API, and
// the plans PostgreSQL chooses (they must use the owner index and the trigram index). Then cursor
// paging: a page deep in a listing against the first page, by cursor and by offset, for every sort,
// and the plans of the keyset queries.
import { ok, type paths } from '../src/client/index.js';
import { startServer } from '../tests/support/app-server.js';
import { signUp, type SignedUp } from '../tests/support/users.js';
import { database, measure, show, type Figures } from './support.js';

type Sort = NonNullable<NonNullable<paths['/tasks']['get']['parameters']['query']>['sort']>;

const OWNERS = Number(process.env.BENCH_OWNERS ?? 200);
const PER_OWNER = Number(process.env.BENCH_TASKS_PER_OWNER ?? 500);
const N = Number(process.env.BENCH_N ?? 200);
const SORTS: Sort[] = ['-created_at', 'created_at', '-updated_at', 'updated_at', 'title', '-title'];
const LIMIT = 20;

const server = await startServer({ AUTH_RATE_LIMIT: '0' }, { direct: true });
try {
  const { knex } = server;
  const me = await signUp(server);
  const admin = await signUp(server, { role: 'admin' });
  console.log(`seeding ${OWNERS} owners x ${PER_OWNER} tasks on ${database()}…`);
  await knex.raw(
    `insert into users (email, password_hash)
     select 'owner' || i || '@example.com', 'x' from generate_series(1, ?) i`,
    [OWNERS - 1],
  );
  // The admin owns none: their listings span every owner's tasks.
  await knex.raw(
    `insert into tasks (owner_id, title, status, created_at, updated_at)
     select u.id, 'task ' || i || ' of ' || u.email, (array['todo','in_progress','done'])[1 + i % 3],
            now() - make_interval(secs => i), now() - make_interval(secs => (i * 7919) % ?)
     from users u, generate_series(1, ?) i where u.role = 'user'`,
    [PER_OWNER, PER_OWNER],
  );
  await knex.raw('analyze tasks');
  const total = (await knex('tasks').count({ n: '*' }).first())!.n as number;
  console.log(`tasks in table: ${total}`);

  const list = (user: SignedUp, query: NonNullable<paths['/tasks']['get']['parameters']['query']>) =>
    ok(user.client.GET('/tasks', { params: { query } }));

  show('GET /tasks (own newest, limit 20)', await measure(N, () => list(me, {})));
  show('GET /tasks?offset=400', await measure(N, () => list(me, { offset: 400 })));
  show('GET /tasks?q=… (title substring)', await measure(N, () => list(me, { q: 'task 4' })));

  /** First page, a deep page by cursor and the same page by offset: the cursor page should cost what the first does. */
  async function deepPages(label: string, user: SignedUp, sort: Sort, position: number, n: number) {
    // The offset page just before `position` hands out the cursor that continues at `position`.
    const { next_cursor: cursor } = await list(user, { sort, limit: LIMIT, offset: position - LIMIT });
    const first = await measure(n, () => list(user, { sort, limit: LIMIT }));
    const byCursor = await measure(n, () => list(user, { sort, limit: LIMIT, cursor: cursor! }));
    const byOffset = await measure(n, () => list(user, { sort, limit: LIMIT, offset: position }));
    const ratio = (f: Figures) => (f.p50 / first.p50).toFixed(2);
    console.log(
      `${`${label} sort=${sort}`.padEnd(34)} p50 first ${first.p50.toFixed(1).padStart(6)} ms · cursor@${position} ${byCursor.p50.toFixed(1).padStart(6)} ms (×${ratio(byCursor)})` +
        ` · offset=${position} ${byOffset.p50.toFixed(1).padStart(6)} ms (×${ratio(byOffset)})`,
    );
  }
  console.log(`\ndeep pages against the first page (limit ${LIMIT}; p50, ratio to the first page in the same run)`);
  for (const sort of SORTS) await deepPages('own tasks', me, sort, PER_OWNER - LIMIT, Math.ceil(N / 4));
  const deep = Math.floor(total / 2);
  for (const sort of SORTS) await deepPages('admin, every owner', admin, sort, deep, Math.ceil(N / 10));

  const explain = async (label: string, sql: string, bindings: unknown[]) => {
    const { rows } = await knex.raw(`explain ${sql}`, bindings as never[]);
    console.log(`\nEXPLAIN ${label}\n${rows.map((r: Record<string, string>) => `  ${Object.values(r)[0]}`).join('\n')}`);
  };
  await explain('own newest', 'select * from tasks where owner_id = ? order by created_at desc, id desc limit 20', [me.id]);
  await explain('title search across owners', "select * from tasks where title ilike ? order by created_at desc, id desc limit 20", ['%of owner17@%']);

  // The keyset queries a cursor page runs, continuing after the middle row of each listing.
  for (const sort of SORTS) {
    const column = sort.replace(/^-/, '');
    const [direction, op] = sort.startsWith('-') ? ['desc', '<'] : ['asc', '>'];
    for (const [label, owner] of [['own tasks', me.id], ['every owner', undefined]] as const) {
      const scope = owner ? 'owner_id = ? and ' : '';
      const middle = await knex('tasks').modify((q) => owner && q.where('owner_id', owner)).orderBy([column, 'id']).offset(owner ? PER_OWNER / 2 : deep).first(column, 'id');
      await explain(
        `keyset page, ${label}, sort=${sort}`,
        `select * from tasks where ${scope}(${column}, id) ${op} (?, ?) order by ${column} ${direction}, id ${direction} limit ${LIMIT + 1}`,
        [...(owner ? [owner] : []), middle[column], middle.id],
      );
    }
  }
} finally {
  await server.close();
}
