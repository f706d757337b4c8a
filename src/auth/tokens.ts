import jwt from 'jsonwebtoken';
import type { Caller } from '../http/operations.js';
import { problems } from '../http/problem.js';

export type TokenKind = 'access' | 'refresh';

export interface TokenSettings {
  secretKey: string;
  accessTokenTtl: number;
  refreshTokenTtl: number;
}

export interface AccessClaims {
  sub: string;
  sid: string;
  role: Caller['role'];
}

export interface RefreshClaims {
  sub: string;
  sid: string;
  jti: string;
  exp: number;
}

// Pinned on verify: `alg: none`, RS/HS confusion and every other algorithm are refused.
const ALGORITHM = 'HS256';

export function createTokens(settings: TokenSettings) {
  const { secretKey } = settings;

  function verify(token: string, kind: TokenKind): jwt.JwtPayload {
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, secretKey, { algorithms: [ALGORITHM] });
    } catch (error) {
      const expired = error instanceof jwt.TokenExpiredError;
      throw problems.unauthorized(expired ? `The ${kind} token has expired.` : `The ${kind} token is not valid.`);
    }
    // The `typ` claim keeps a refresh token from being used as an access token and vice versa.
    if (typeof payload !== 'object' || payload.typ !== kind || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') {
      throw problems.unauthorized(`This is not a valid ${kind} token.`);
    }
    return payload;
  }

  return {
    signAccess: (claims: AccessClaims): string =>
      jwt.sign({ role: claims.role, sid: claims.sid, typ: 'access' }, secretKey, {
        algorithm: ALGORITHM,
        subject: claims.sub,
        expiresIn: settings.accessTokenTtl,
      }),

    signRefresh: (claims: Omit<RefreshClaims, 'exp'>): string =>
      jwt.sign({ sid: claims.sid, typ: 'refresh' }, secretKey, {
        algorithm: ALGORITHM,
        subject: claims.sub,
        jwtid: claims.jti,
        expiresIn: settings.refreshTokenTtl,
      }),

    verifyAccess(token: string): AccessClaims {
      const payload = verify(token, 'access');
      return { sub: payload.sub!, sid: payload.sid as string, role: payload.role as Caller['role'] };
    },

    verifyRefresh(token: string): RefreshClaims {
      const payload = verify(token, 'refresh');
      if (typeof payload.jti !== 'string') throw problems.unauthorized('This is not a valid refresh token.');
      return { sub: payload.sub!, sid: payload.sid as string, jti: payload.jti, exp: payload.exp! };
    },
  };
}

export type Tokens = ReturnType<typeof createTokens>;
