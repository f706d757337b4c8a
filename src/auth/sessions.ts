import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { raw } from 'objection';
import type { components } from '../../generated/openapi.js';
import { RefreshToken } from '../db/models/RefreshToken.js';
import { Session } from '../db/models/Session.js';
import { User } from '../db/models/User.js';
import { problems } from '../http/problem.js';
import type { Tokens } from './tokens.js';

type TokenPair = components['schemas']['TokenPair'];
type Db = Knex | Knex.Transaction;

// Only a hash is stored: a leaked table cannot be replayed as tokens.
const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export interface SessionSettings {
  accessTokenTtl: number;
  refreshTokenTtl: number;
  refreshReuseGraceSeconds: number;
}

export function createSessions(deps: { knex: Knex; tokens: Tokens; settings: SessionSettings }) {
  const { knex, tokens, settings } = deps;

  /** Stores the refresh token that follows `previous` (if any) and signs the pair. */
  async function issuePair(trx: Knex.Transaction, user: Pick<User, 'id' | 'role'>, sessionId: string, previous?: string): Promise<TokenPair> {
    const jti = randomUUID();
    const refreshToken = tokens.signRefresh({ sub: user.id, sid: sessionId, jti });
    await RefreshToken.query(trx).insert({
      id: jti,
      session_id: sessionId,
      token_hash: hashToken(refreshToken),
      expires_at: new Date(Date.now() + settings.refreshTokenTtl * 1000),
    });
    if (previous) await RefreshToken.query(trx).findById(previous).patch({ replaced_by: jti });
    return {
      access_token: tokens.signAccess({ sub: user.id, sid: sessionId, role: user.role }),
      refresh_token: refreshToken,
      token_type: 'bearer',
      expires_in: settings.accessTokenTtl,
    };
  }

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
     * that was checked and is active; else undefined. The account's row is locked (FOR SHARE)
     * until the session is committed, so a password change or deactivation either waits and then
     * ends this session with the others, or commits first and this finds nothing.
     */
    start: (user: Pick<User, 'id' | 'role' | 'password_hash'>, userAgent: string | null) =>
      knex.transaction(async (trx) => {
        const { rows } = await trx.raw<{ rows: { id: string }[] }>(
          `insert into sessions (user_id, user_agent)
           select id, :userAgent from users where id = :id and password_hash = :hash and is_active
           for share
           returning id`,
          { id: user.id, hash: user.password_hash, userAgent },
        );
        return rows[0] && issuePair(trx, user, rows[0].id);
      }),

    /**
     * Spends the presented refresh token and issues its successor. The spend is one conditional
     * UPDATE, so of N concurrent refreshes with one token exactly one wins; the others find the
     * token spent and are treated as a replay.
     */
    rotate: (refreshToken: string) =>
      knex
        .transaction(async (trx) => {
          const claims = tokens.verifyRefresh(refreshToken);
          const spent = await RefreshToken.query(trx)
            .where({ id: claims.jti, session_id: claims.sid, token_hash: hashToken(refreshToken) })
            .whereNull('spent_at')
            .where('expires_at', '>', raw('now()'))
            .whereExists(
              Session.query(trx)
                .joinRelated('user')
                .whereColumn('sessions.id', 'refresh_tokens.session_id')
                .whereNull('sessions.revoked_at')
                .where({ 'user.is_active': true, 'user.id': claims.sub }),
            )
            .patch({ spent_at: raw('now()') as unknown as Date });
          if (spent === 1) {
            await Session.query(trx).findById(claims.sid).patch({ last_used_at: raw('now()') as unknown as Date });
            const user = await User.query(trx).findById(claims.sub).select('id', 'role');
            return issuePair(trx, user!, claims.sid, claims.jti);
          }
          return { replayed: claims };
        })
        .then(async (result) => {
          if ('access_token' in result) return result;
          // Outside the rotation's transaction, so the revocation is committed even though we answer 401.
          await handleReplay(result.replayed.jti, result.replayed.sid);
          throw problems.unauthorized('The refresh token is not valid; log in again.');
        }),

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
