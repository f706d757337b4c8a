// The floor: the least work the contract allows for each endpoint the benchmark measures, on the
// API's own tables — bare node:http and pg, no framework, no validation, no logging. Every API
// figure is printed as a ratio to this server's, measured in the same run.
//
// Per bearer request: verify the HS256 token with a key made once, one query for user and session
// liveness, then the endpoint's own query (one statement each; the refresh rotation and the login's
// session are single statements with data-modifying CTEs, so they need no BEGIN/COMMIT round trips).
// Every statement is prepared (issue 18): unnamed, the same floor served about 1.4 × less, since
// PostgreSQL parses and plans each one on the same two cores.
// It serves only what the benchmark sends: the role is read but an admin's wider view is not built.
import { createHash, createSecretKey, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import bcrypt from 'bcrypt';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { readBody, sendJson, serve, type Service } from './serve.js';

const env = process.env;
const ACCESS_TTL = Number(env.ACCESS_TOKEN_TTL ?? 900);
const REFRESH_TTL = Number(env.REFRESH_TOKEN_TTL ?? 604_800);
const key = createSecretKey(Buffer.from(env.SECRET_KEY!));
const verifyOptions: jwt.VerifyOptions = { algorithms: ['HS256'] };

// As the API presents a task, key order included (priority by name, label_keys left out).
const taskColumns = (t: string) => `${t}id, ${t}title, ${t}description, ${t}status, ${t}due_at,
  (array['none', 'low', 'medium', 'high', 'urgent'])[${t}priority + 1] as priority, ${t}labels, ${t}completed_at, ${t}owner_id,
  ${t}created_at, ${t}updated_at`;
const TASK = taskColumns('');
const SQL = {
  live: `select u.role from sessions s join users u on u.id = s.user_id
         where s.id = $1 and s.user_id = $2 and s.revoked_at is null and u.is_active`,
  // The count is an uncorrelated subquery (computed once, index-only) rather than count(*) over (),
  // which would fetch every matching row before the limit: the cheaper of the two one-statement forms.
  page: `select ${TASK}, (select count(*)::int from tasks where owner_id = $1) as total
         from tasks where owner_id = $1 order by created_at desc, id desc limit $2 offset $3`,
  after: `select ${TASK}, (select count(*)::int from tasks where owner_id = $1) as total
          from tasks where owner_id = $1 and (created_at, id) < ($3::timestamptz, $4::uuid)
          order by created_at desc, id desc limit $2`,
  count: 'select count(*)::int as total from tasks where owner_id = $1',
  // First pages only (the scenarios ask for no more): soonest due first, tasks without due_at
  // last, on the index of that expression; and one label's tasks, newest first.
  due: `select ${TASK}, (select count(*)::int from tasks where owner_id = $1) as total
        from tasks where owner_id = $1 order by coalesce(due_at, 'infinity'), id limit $2`,
  labelled: `select ${TASK}, (select count(*)::int from tasks where owner_id = $1 and label_keys @> array[$3] and label_keys <> '{}') as total
             from tasks where owner_id = $1 and label_keys @> array[$3] and label_keys <> '{}'
             order by created_at desc, id desc limit $2`,
  // The change feed's one statement (src/sync/feed.ts), for the two reads measured: a first page from
  // nothing, and a caught-up position (the changes a snapshot did not see, tasks and tombstones).
  changesFirst: `select ${TASK}, id as feed_id, pg_current_snapshot()::text as snapshot
                 from tasks where owner_id = $1 order by change_xid, id limit $2`,
  changesSince: `with page as (
                   (select id, change_xid, null::timestamptz as deleted_at from tasks
                     where owner_id = $1 and change_xid >= pg_snapshot_xmin($3::pg_snapshot) and not pg_visible_in_snapshot(change_xid, $3::pg_snapshot)
                     order by change_xid, id limit $2)
                   union all
                   (select task_id, change_xid, deleted_at from task_tombstones d
                     where owner_id = $1 and change_xid >= pg_snapshot_xmin($3::pg_snapshot) and not pg_visible_in_snapshot(change_xid, $3::pg_snapshot)
                       and not exists (select 1 from tasks t where t.id = d.task_id and t.owner_id = d.owner_id)
                     order by change_xid, task_id limit $2))
                 select now.snapshot, p.id as feed_id, p.deleted_at, ${taskColumns('t.')}
                 from (select pg_current_snapshot()::text as snapshot) now
                 left join (page p left join tasks t on t.id = p.id) on true
                 order by p.change_xid, p.id limit $2`,
  get: `select ${TASK} from tasks where id = $1 and owner_id = $2`,
  create: `insert into tasks (owner_id, title, description, status) values ($1, $2, $3, coalesce($4, 'todo')) returning ${TASK}`,
  update: `update tasks set title = coalesce($3, title), status = coalesce($4, status),
             description = case when $5::boolean then $6 else description end,
             updated_at = greatest(now(), updated_at + interval '1 millisecond')
           where id = $1 and owner_id = $2 returning ${TASK}`,
  user: 'select id, password_hash, role, is_active from users where email = $1',
  session: `with session as (insert into sessions (id, user_id) values ($1, $2))
            insert into refresh_tokens (id, session_id, token_hash, expires_at)
            values ($3, $1, $4, now() + make_interval(secs => $5))`,
  // Spends the token only if it is live, its session too and its user active; the successor is
  // stored by the same statement, so exactly one of N concurrent rotations wins.
  rotate: `with spent as (
             update refresh_tokens t set spent_at = now(), replaced_by = $4
             from sessions s join users u on u.id = s.user_id
             where t.id = $1 and t.session_id = $2 and t.token_hash = $3 and t.spent_at is null
               and t.expires_at > now() and s.id = t.session_id and s.revoked_at is null
               and u.is_active and u.id = $5
             returning u.role),
           successor as (
             insert into refresh_tokens (id, session_id, token_hash, expires_at)
             select $4, $2, $6, now() + make_interval(secs => $7) from spent)
           select role from spent`,
};

interface Caller {
  id: string;
  role: string;
}

interface TaskRow {
  id: string;
  created_at: Date;
  updated_at: Date;
  total?: number;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
const etag = (task: TaskRow) => `"${task.updated_at.getTime()}"`;
const problem = (res: ServerResponse, status: number) => sendJson(res, status, { type: 'about:blank', title: 'error', status, detail: 'floor' });

function claims(token: string | undefined, typ: 'access' | 'refresh'): jwt.JwtPayload | undefined {
  if (!token) return undefined;
  try {
    const payload = jwt.verify(token, key, verifyOptions) as jwt.JwtPayload;
    return payload.typ === typ ? payload : undefined;
  } catch {
    return undefined;
  }
}

function tokenPair(userId: string, role: string, sessionId: string, refreshToken: string) {
  return {
    access_token: jwt.sign({ role, sid: sessionId, typ: 'access' }, key, { algorithm: 'HS256', subject: userId, expiresIn: ACCESS_TTL }),
    refresh_token: refreshToken,
    token_type: 'bearer',
    expires_in: ACCESS_TTL,
  };
}

const signRefresh = (userId: string, sessionId: string, jti: string) =>
  jwt.sign({ sid: sessionId, typ: 'refresh' }, key, { algorithm: 'HS256', subject: userId, jwtid: jti, expiresIn: REFRESH_TTL });

async function start(): Promise<Service> {
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.DATABASE_POOL_MAX ?? 10) });
  const dummyHash = await bcrypt.hash('not-a-password-anyone-has', Number(env.BCRYPT_ROUNDS ?? 10));

  // Every statement prepared once per connection (a named pg query config): PostgreSQL parses and
  // plans it once, not per request, on the same cores as everything else. The least work.
  const sql = <R extends pg.QueryResultRow = Record<string, unknown>>(name: keyof typeof SQL, values: unknown[]) =>
    pool.query<R>({ name, text: SQL[name], values });

  async function authenticate(req: IncomingMessage): Promise<Caller | undefined> {
    const token = claims(req.headers.authorization?.slice('Bearer '.length), 'access');
    if (!token) return undefined;
    const { rows } = await sql<{ role: string }>('live', [token.sid, token.sub]);
    return rows[0] && { id: token.sub!, role: rows[0].role };
  }

  async function list(res: ServerResponse, caller: Caller, query: URLSearchParams) {
    const limit = Number(query.get('limit') ?? 20);
    const cursor = query.get('cursor');
    // A cursor is [created_at, id, position of the next item] of the last item shown.
    const [createdAt, lastId, position] = cursor ? (JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string, number]) : [];
    const offset = cursor ? position! : Number(query.get('offset') ?? 0);
    const label = query.get('label');
    const { rows } = cursor
      ? await sql<TaskRow>('after', [caller.id, limit, createdAt, lastId])
      : query.get('sort') === 'due_at'
        ? await sql<TaskRow>('due', [caller.id, limit])
        : label
          ? await sql<TaskRow>('labelled', [caller.id, limit, label.toLowerCase()])
          : await sql<TaskRow>('page', [caller.id, limit, offset]);
    const total = rows[0]?.total ?? (await sql<{ total: number }>('count', [caller.id])).rows[0]!.total;
    const items = rows.map(({ total: _, ...task }) => task);
    const last = items.at(-1);
    const end = offset + items.length;
    const next = last && end < total ? Buffer.from(JSON.stringify([last.created_at, last.id, end])).toString('base64url') : null;
    sendJson(res, 200, { items, total, limit, offset, next_cursor: next });
  }

  // Positions are the snapshot text, unsigned, as the floor's cursors are.
  async function changes(res: ServerResponse, caller: Caller, query: URLSearchParams) {
    const limit = Number(query.get('limit') ?? 100);
    const since = query.get('since');
    const { rows } = since
      ? await sql<Record<string, unknown>>('changesSince', [caller.id, limit + 1, Buffer.from(since, 'base64url').toString()])
      : await sql<Record<string, unknown>>('changesFirst', [caller.id, limit + 1]);
    const found = rows.filter((row) => row.feed_id !== null);
    const changes = found.slice(0, limit).map(({ snapshot: _s, feed_id, deleted_at, ...task }) =>
      deleted_at ? { type: 'delete', id: feed_id, deleted_at } : { type: 'upsert', task },
    );
    const snapshot = String(rows[0]?.snapshot ?? '');
    const next = Buffer.from(found.length > limit ? JSON.stringify([snapshot, changes.length]) : snapshot).toString('base64url');
    sendJson(res, 200, { changes, next_since: next, has_more: found.length > limit });
  }

  async function login(res: ServerResponse, body: { email: string; password: string }) {
    const user = (await sql('user', [body.email.toLowerCase()])).rows[0] as
      | { id: string; password_hash: string; role: string; is_active: boolean }
      | undefined;
    const matches = await bcrypt.compare(body.password, user?.password_hash ?? dummyHash);
    if (!user || !matches) return problem(res, 401);
    if (!user.is_active) return problem(res, 403);
    const sessionId = randomUUID();
    const jti = randomUUID();
    const refreshToken = signRefresh(user.id, sessionId, jti);
    await sql('session', [sessionId, user.id, jti, hashToken(refreshToken), REFRESH_TTL]);
    sendJson(res, 200, tokenPair(user.id, user.role, sessionId, refreshToken), { 'Cache-Control': 'no-store' });
  }

  async function refresh(res: ServerResponse, body: { refresh_token: string }) {
    const token = claims(body.refresh_token, 'refresh');
    if (!token) return problem(res, 401);
    const jti = randomUUID();
    const successor = signRefresh(token.sub!, token.sid, jti);
    const { rows } = await sql<{ role: string }>('rotate', [
      token.jti, token.sid, hashToken(body.refresh_token), jti, token.sub, hashToken(successor), REFRESH_TTL,
    ]);
    if (!rows[0]) return problem(res, 401);
    sendJson(res, 200, tokenPair(token.sub!, rows[0].role, token.sid, successor), { 'Cache-Control': 'no-store' });
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const [path = '', search = ''] = req.url!.split('?');
    const method = req.method;
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (method === 'POST' && path === '/auth/login') return login(res, JSON.parse(await readBody(req)));
    if (method === 'POST' && path === '/auth/refresh') return refresh(res, JSON.parse(await readBody(req)));
    const caller = await authenticate(req);
    if (!caller) return problem(res, 401);
    if (path === '/tasks/changes' && method === 'GET') return changes(res, caller, new URLSearchParams(search));
    if (path === '/tasks') {
      if (method === 'GET') return list(res, caller, new URLSearchParams(search));
      if (method === 'POST') {
        const body = JSON.parse(await readBody(req)) as { title: string; description?: string | null; status?: string };
        const task = (await sql<TaskRow>('create', [caller.id, body.title, body.description ?? null, body.status ?? null])).rows[0]!;
        return sendJson(res, 201, task, { Location: `/tasks/${task.id}`, ETag: etag(task) });
      }
    }
    if (path.startsWith('/tasks/')) {
      const id = path.slice('/tasks/'.length);
      let task: TaskRow | undefined;
      if (method === 'GET') task = (await sql<TaskRow>('get', [id, caller.id])).rows[0];
      if (method === 'PUT') {
        const body = JSON.parse(await readBody(req)) as { title?: string; description?: string | null; status?: string };
        const values = [id, caller.id, body.title ?? null, body.status ?? null, 'description' in body, body.description ?? null];
        task = (await sql<TaskRow>('update', values)).rows[0];
      }
      return task ? sendJson(res, 200, task, { ETag: etag(task) }) : problem(res, 404);
    }
    problem(res, 404);
  }

  return {
    handler: (req, res) => {
      route(req, res).catch(() => problem(res, 500));
    },
    close: () => pool.end(),
  };
}

await serve(start);
