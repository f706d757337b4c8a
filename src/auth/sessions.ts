import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { components } from '../../generated/openapi.js';
import type { Caller } from '../http/operations.js';
import { problems } from '../http/problem.js';
import type { Tokens } from './tokens.js';

type TokenPair = components['schemas']['TokenPair'];

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
  async function issuePair(trx: Knex.Transaction, user: { id: string; role: Caller['role'] }, sessionId: string, previous?: string): Promise<TokenPair> {
    const jti = randomUUID();
    const refreshToken = tokens.signRefresh({ sub: user.id, sid: sessionId, jti });
    await trx('refresh_tokens').insert({
      id: jti,
      session_id: sessionId,
      token_hash: hashToken(refreshToken),
      expires_at: new Date(Date.now() + settings.refreshTokenTtl * 1000),
    });
    if (previous) await trx('refresh_tokens').where('id', previous).update({ replaced_by: jti });
    return {
      access_token: tokens.signAccess({ sub: user.id, sid: sessionId, role: user.role }),
      refresh_token: refreshToken,
      token_type: 'bearer',
      expires_in: settings.accessTokenTtl,
    };
  }

  const revoke = (query: Knex.QueryBuilder) => query.whereNull('revoked_at').update({ revoked_at: knex.fn.now() });

  return {
    /** A new session with its first pair. */
    start: (user: { id: string; role: Caller['role'] }) =>
      knex.transaction(async (trx) => {
        const [session] = await trx('sessions').insert({ user_id: user.id }).returning<{ id: string }[]>('id');
        return issuePair(trx, user, session!.id);
      }),

    /**
     * Spends the presented refresh token and issues its successor. The spend is one conditional
     * UPDATE, so of N concurrent refreshes with one token exactly one wins; the others find the
     * token spent and are treated as a replay.
     */
    rotate: (refreshToken: string) =>
      knex.transaction(async (trx) => {
        const claims = tokens.verifyRefresh(refreshToken);
        const spent = await trx('refresh_tokens as t')
          .where({ 't.id': claims.jti, 't.session_id': claims.sid, 't.token_hash': hashToken(refreshToken) })
          .whereNull('t.spent_at')
          .where('t.expires_at', '>', trx.fn.now())
          .whereExists((q) =>
            q.select(1).from('sessions as s').join('users as u', 'u.id', 's.user_id')
              .whereRaw('s.id = t.session_id').whereNull('s.revoked_at').where('u.is_active', true).where('u.id', claims.sub),
          )
          .update({ spent_at: trx.fn.now() })
          .returning('t.id');
        if (spent.length === 1) {
          const user = await trx('users').where('id', claims.sub).first<{ id: string; role: Caller['role'] }>('id', 'role');
          return issuePair(trx, user!, claims.sid, claims.jti);
        }
        return { replayed: claims };
      }).then(async (result) => {
        if ('access_token' in result) return result;
        // Outside the rotation's transaction, so the revocation is committed even though we answer 401.
        await handleReplay(result.replayed.jti, result.replayed.sid);
        throw problems.unauthorized('The refresh token is not valid; log in again.');
      }),

    /** Ends the session the refresh token belongs to; ending an ended session is not an error. */
    async end(refreshToken: string) {
      const claims = tokens.verifyRefresh(refreshToken);
      await revoke(knex('sessions').where({ id: claims.sid, user_id: claims.sub }));
    },

    async endAll(userId: string, trx: Knex | Knex.Transaction = knex) {
      await revoke(trx('sessions').where('user_id', userId));
    },

    async endAllBut(userId: string, keepSessionId: string, trx: Knex | Knex.Transaction = knex) {
      await revoke(trx('sessions').where('user_id', userId).whereNot('id', keepSessionId));
    },
  };

  /**
   * A token that was already spent is being presented again: either it was stolen, or the client
   * raced itself. Past the grace period the whole session is revoked, successor included.
   */
  async function handleReplay(jti: string, sessionId: string) {
    // Compared in SQL so that only the database's clock counts.
    const token = await knex('refresh_tokens')
      .where({ id: jti, session_id: sessionId })
      .whereNotNull('spent_at')
      .first<{ in_grace: boolean } | undefined>(
        knex.raw('spent_at > now() - make_interval(secs => ?) as in_grace', [settings.refreshReuseGraceSeconds]),
      );
    if (!token || token.in_grace) return;
    await revoke(knex('sessions').where('id', sessionId));
  }
}

export type Sessions = ReturnType<typeof createSessions>;
