import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { raw } from 'objection';
import type { components } from '../../generated/openapi.js';
import { RefreshToken } from '../db/models/RefreshToken.js';
import { Session } from '../db/models/Session.js';
import { User } from '../db/models/User.js';
import { problems } from '../http/problem.js';
import { hashToken } from './token-hash.js';
import type { Tokens } from './tokens.js';

type TokenPair = components['schemas']['TokenPair'];
type Db = Knex | Knex.Transaction;

// The token is spent only if it is live, its session too and its user active; the session's
// last use and the successor are written by the same statement, or not at all.
const ROTATE = `
  with spent as (
    update refresh_tokens t set spent_at = now(), replaced_by = :next
    from sessions s join users u on u.id = s.user_id
    where t.id = :jti and t.session_id = :sid and t.token_hash = :hash and t.spent_at is null
      and t.expires_at > now() and s.id = t.session_id and s.revoked_at is null and u.is_active and u.id = :sub
    returning u.role),
  used as (update sessions set last_used_at = now() where id = :sid and exists (select from spent)),
  stored as (
    insert into refresh_tokens (id, session_id, token_hash, expires_at)
    select :next, :sid, :nextHash, :expiresAt from spent)
  select role from spent`;

// A session and its first refresh token, made only if the account still has the password hash
// that was checked and is active. Its row is locked until the transaction ends (see start()).
const START = `
  with session as (
    insert into sessions (id, user_id, user_agent)
    select :sessionId, id, :userAgent from users where id = :userId and password_hash = :hash and is_active
    for no key update
    returning id)
  insert into refresh_tokens (id, session_id, token_hash, expires_at)
  select :jti, id, :tokenHash, :expiresAt from session
  returning session_id`;

// Ends the user's least recently used sessions beyond the newest :keep, never the session just
// made (whose last use is its transaction's start, which may be earlier than a concurrent login's
// that committed first). Only the sessions table is read: a session's refresh token expires a
// refresh lifetime after the session's last use, so every live session was used more recently than
// any whose token expired, and the newest :keep are the live ones first. (Asking each session for a
// live token cost 13 ms a login at 99 sessions where the tokens' statistics were those of an empty
// table: the planner combined the session_id index with a scan of every token's expires_at.)
const END_LEAST_RECENTLY_USED = `
  update sessions set revoked_at = now()
  where id in (
    select s.id from sessions s
    where s.user_id = :userId and s.id <> :sessionId and s.revoked_at is null
    order by s.last_used_at desc, s.id desc
    offset :keep)`;

export interface SessionSettings {
  accessTokenTtl: number;
  refreshTokenTtl: number;
  refreshReuseGraceSeconds: number;
  /** Live sessions a user may have (MAX_SESSIONS_PER_USER); 0: no cap. */
  maxSessionsPerUser: number;
}

export function createSessions(deps: { knex: Knex; tokens: Tokens; settings: SessionSettings }) {
  const { knex, tokens, settings } = deps;

  const pairOf = (user: Pick<User, 'id' | 'role'>, sessionId: string, refreshToken: string): TokenPair => ({
    access_token: tokens.signAccess({ sub: user.id, sid: sessionId, role: user.role }),
    refresh_token: refreshToken,
    token_type: 'bearer',
    expires_in: settings.accessTokenTtl,
  });

  /** Live sessions, narrowed by `where`, to be revoked. */
  const revoke = (db: Db, where: (query: ReturnType<typeof Session.query>) => unknown) => {
    const query = Session.query(db).whereNull('revoked_at');
    where(query);
    return query.patch({ revoked_at: raw('now()') as unknown as Date });
  };

  /**
   * A token that was already spent is being presented again: either it was stolen, or the client
   * raced itself. Past the grace period the whole session is revoked, successor included.
   */
  async function handleReplay(jti: string, sessionId: string) {
    // Compared in SQL so that only the database's clock counts.
    const token = (await RefreshToken.query(knex)
      .where({ id: jti, session_id: sessionId })
      .whereNotNull('spent_at')
      .select(raw('spent_at > now() - make_interval(secs => ?) as in_grace', [settings.refreshReuseGraceSeconds]))
      .first()) as unknown as { in_grace: boolean } | undefined;
    if (!token || token.in_grace) return;
    await revoke(knex, (q) => q.findById(sessionId));
  }

  return {
    /**
     * A new session with its first pair, made only if the account still has the password hash
     * that was checked and is active; else undefined. The account's row is locked until the
     * session is committed, so a password change or deactivation either waits and then ends this
     * session with the others, or commits first and this finds nothing; and concurrent logins of
     * one account take turns, so each counts the sessions the others made when it ends those
     * beyond MAX_SESSIONS_PER_USER.
     */
    start: (user: Pick<User, 'id' | 'role' | 'password_hash'>, userAgent: string | null) =>
      knex.transaction(async (trx) => {
        const sessionId = randomUUID();
        const jti = randomUUID();
        const refreshToken = tokens.signRefresh({ sub: user.id, sid: sessionId, jti });
        const { rows } = await trx.raw<{ rows: object[] }>(START, {
          sessionId,
          userId: user.id,
          hash: user.password_hash,
          userAgent,
          jti,
          tokenHash: hashToken(refreshToken),
          expiresAt: new Date(Date.now() + settings.refreshTokenTtl * 1000),
        }).options({ name: 'session-start' });
        if (!rows[0]) return undefined;
        // A statement of its own, after the account's row is locked: its snapshot then holds the
        // sessions that logins which held the lock before this one committed.
        if (settings.maxSessionsPerUser > 0) {
          await trx.raw(END_LEAST_RECENTLY_USED, { userId: user.id, sessionId, keep: settings.maxSessionsPerUser - 1 }).options({ name: 'sessions-beyond-cap' });
        }
        return pairOf(user, sessionId, refreshToken);
      }),

    /**
     * Spends the presented refresh token and issues its successor, in one statement: of N
     * concurrent refreshes with one token exactly one spends it; the others find it spent and are
     * treated as a replay. One statement is atomic without a transaction, and a refresh is one
     * round trip instead of seven.
     */
    rotate: async (refreshToken: string) => {
      const claims = tokens.verifyRefresh(refreshToken);
      const jti = randomUUID();
      const successor = tokens.signRefresh({ sub: claims.sub, sid: claims.sid, jti });
      const { rows } = await knex.raw<{ rows: Pick<User, 'role'>[] }>(ROTATE, {
        jti: claims.jti,
        sid: claims.sid,
        sub: claims.sub,
        hash: hashToken(refreshToken),
        next: jti,
        nextHash: hashToken(successor),
        expiresAt: new Date(Date.now() + settings.refreshTokenTtl * 1000),
      }).options({ name: 'rotate' });
      if (rows[0]) return pairOf({ id: claims.sub, role: rows[0].role }, claims.sid, successor);
      // The revocation a replay may call for is committed even though we answer 401.
      await handleReplay(claims.jti, claims.sid);
      throw problems.unauthorized('The refresh token is not valid; log in again.');
    },

    /** Ends the session the refresh token belongs to; ending an ended session is not an error. */
    async end(refreshToken: string) {
      const claims = tokens.verifyRefresh(refreshToken);
      await revoke(knex, (q) => q.where({ id: claims.sid, user_id: claims.sub }));
    },

    endAll: (userId: string, db: Db = knex) => revoke(db, (q) => q.where('user_id', userId)),

    endAllBut: (userId: string, keepSessionId: string, db: Db = knex) =>
      revoke(db, (q) => q.where('user_id', userId).whereNot('id', keepSessionId)),
  };
}

export type Sessions = ReturnType<typeof createSessions>;
