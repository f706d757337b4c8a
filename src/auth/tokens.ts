import { createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { UUID } from '../http/ajv.js';
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

const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

export function createTokens(settings: TokenSettings) {
  // Made once: given a string, jsonwebtoken tries (and fails) to parse it as a public key on
  // every verify, which cost a quarter of a worker's CPU under load.
  const key = createSecretKey(Buffer.from(settings.secretKey));

  /**
   * The token's claims if it is one this server issued as a `kind` token: signed, unexpired, with
   * an `exp`, UUID ids (the database would refuse anything else with an error), and no `crit`
   * header, since this server understands no JWS extension (RFC 7515 §4.1.11).
   */
  function verify(token: string, kind: TokenKind): jwt.JwtPayload {
    let decoded: jwt.Jwt;
    try {
      decoded = jwt.verify(token, key, { algorithms: [ALGORITHM], complete: true });
    } catch (error) {
      const expired = error instanceof jwt.TokenExpiredError;
      throw problems.unauthorized(expired ? `The ${kind} token has expired.` : `The ${kind} token is not valid.`);
    }
    const { header, payload } = decoded;
    // The `typ` claim keeps a refresh token from being used as an access token and vice versa.
    const issued =
      !('crit' in header) &&
      typeof payload === 'object' &&
      payload.typ === kind &&
      typeof payload.exp === 'number' &&
      isUuid(payload.sub) &&
      isUuid(payload.sid) &&
      (kind === 'access' || isUuid(payload.jti));
    if (!issued) throw problems.unauthorized(`This is not a valid ${kind} token.`);
    return payload;
  }

  return {
    signAccess: (claims: AccessClaims): string =>
      jwt.sign({ role: claims.role, sid: claims.sid, typ: 'access' }, key, {
        algorithm: ALGORITHM,
        subject: claims.sub,
        expiresIn: settings.accessTokenTtl,
      }),

    signRefresh: (claims: Omit<RefreshClaims, 'exp'>): string =>
      jwt.sign({ sid: claims.sid, typ: 'refresh' }, key, {
        algorithm: ALGORITHM,
        subject: claims.sub,
        jwtid: claims.jti,
        expiresIn: settings.refreshTokenTtl,
      }),

    /** The claims, and `exp` (seconds since the epoch): when the token stops working. */
    verifyAccess(token: string): AccessClaims & { exp: number } {
      const payload = verify(token, 'access');
      return { sub: payload.sub!, sid: payload.sid as string, role: payload.role as Caller['role'], exp: payload.exp! };
    },

    verifyRefresh(token: string): RefreshClaims {
      const payload = verify(token, 'refresh');
      return { sub: payload.sub!, sid: payload.sid as string, jti: payload.jti!, exp: payload.exp! };
    },
  };
}

export type Tokens = ReturnType<typeof createTokens>;
