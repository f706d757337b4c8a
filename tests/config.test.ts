import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const LONG_KEY = 'k'.repeat(32);
const DB_URL = 'postgres://app@db.internal:5432/tasks';
let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'config-test-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const load = (env: NodeJS.ProcessEnv) => loadConfig(env, { dataDir });

function failureOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults when nothing is set', () => {
    const config = load({});
    expect(config).toMatchObject({
      env: 'development',
      logLevel: 'info',
      webConcurrency: 1,
      http: { port: 8000, corsOrigins: [], trustedProxies: [], requestTimeoutSeconds: 30 },
      db: { url: undefined, poolMax: 10, statementTimeoutMs: 0 },
      metrics: { port: undefined },
      auth: {
        accessTokenTtl: 900,
        refreshTokenTtl: 604_800,
        bcryptRounds: 12,
        refreshReuseGraceSeconds: 0,
      },
      limits: {
        authRequestsPerMinute: 1000,
        passwordChecksPerMinute: 100,
        taskWritesPerMinute: 600,
        userRequestsInFlight: 16,
        userReadsPerMinute: 3000,
        loginMaxFailures: 10,
        loginWindowSeconds: 900,
      },
      idempotency: { keyTtlSeconds: 86_400 },
      admin: undefined,
    });
  });

  it('treats an empty variable as unset', () => {
    expect(load({ NODE_ENV: 'test', PORT: '', LOG_LEVEL: '' })).toMatchObject({ http: { port: 8000 }, logLevel: 'info' });
  });

  it('parses lists and normalises origins', () => {
    const config = load({
      NODE_ENV: 'test',
      CORS_ORIGINS: 'https://App.example.com/, http://localhost:3000',
      TRUSTED_PROXIES: 'loopback, 10.0.0.0/8, ::1, fd00::/8',
    });
    expect(config.http.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(config.http.trustedProxies).toEqual(['loopback', '10.0.0.0/8', '::1', 'fd00::/8']);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['BCRYPT_ROUNDS', '1e3'],
    ['BCRYPT_ROUNDS', '3'],
    ['ACCESS_TOKEN_TTL', '12abc'],
    ['ACCESS_TOKEN_TTL', ' 900'],
    ['DATABASE_URL', 'mysql://user:pass@db/app'],
    ['CORS_ORIGINS', 'example.com'],
    ['CORS_ORIGINS', 'https://example.com/app'],
    ['LOG_LEVEL', 'verbose'],
    ['TRUSTED_PROXIES', '10.0.0.0/33'],
    ['TRUSTED_PROXIES', 'proxy.internal'],
    ['AUTH_RATE_LIMIT', '-1'],
    ['REQUEST_TIMEOUT_SECONDS', '0'],
    ['REQUEST_TIMEOUT_SECONDS', '1.5'],
    ['PASSWORD_RATE_LIMIT', '1.5'],
    ['USER_WRITE_RATE_LIMIT', 'many'],
    ['IDEMPOTENCY_KEY_TTL_SECONDS', '0'],
  ])('names %s in the error when it is %j', (variable, value) => {
    const error = failureOf({ NODE_ENV: 'test', [variable]: value });
    expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${variable} must `));
    expect(error.problems).toHaveLength(1);
  });

  it('reports every bad variable in one error', () => {
    const error = failureOf({ NODE_ENV: 'production', DATABASE_URL: DB_URL, PORT: 'abc', LOG_LEVEL: 'loud', BCRYPT_ROUNDS: '99' });
    expect(error.problems.map((p) => p.split(' ')[0]).sort()).toEqual(['BCRYPT_ROUNDS', 'LOG_LEVEL', 'PORT', 'SECRET_KEY']);
  });

  it('refuses to start in production without SECRET_KEY', () => {
    expect(failureOf({ NODE_ENV: 'production' }).message).toMatch(/SECRET_KEY must be set in production/);
  });

  it('refuses a SECRET_KEY shorter than 32 characters in production', () => {
    expect(failureOf({ NODE_ENV: 'production', SECRET_KEY: 'k'.repeat(31) }).message).toMatch(/SECRET_KEY must be at least 32 characters/);
  });

  it('cuts statements off after 5 s in production unless DATABASE_STATEMENT_TIMEOUT_MS says otherwise', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: DB_URL, SECRET_KEY: LONG_KEY };
    expect(load(production).db.statementTimeoutMs).toBe(5000);
    expect(load({ ...production, DATABASE_STATEMENT_TIMEOUT_MS: '0' }).db.statementTimeoutMs).toBe(0);
    expect(load({ NODE_ENV: 'test' }).db.statementTimeoutMs).toBe(0);
  });

  it('turns the per-user bounds off with 0', () => {
    expect(load({ USER_CONCURRENCY_LIMIT: '0', USER_READ_RATE_LIMIT: '0' }).limits).toMatchObject({ userRequestsInFlight: 0, userReadsPerMinute: 0 });
  });

  it('accepts a 32-character SECRET_KEY in production', () => {
    expect(load({ NODE_ENV: 'production', DATABASE_URL: DB_URL, SECRET_KEY: LONG_KEY }).auth.secretKey).toBe(LONG_KEY);
  });

  it('refuses the embedded database in production, naming the variable that allows it', () => {
    expect(failureOf({ NODE_ENV: 'production', SECRET_KEY: LONG_KEY }).message).toMatch(
      /DATABASE_URL must be set in production: .*lost when a container is replaced .*ALLOW_EMBEDDED_DATABASE=true/,
    );
  });

  it('runs the embedded database in production when ALLOW_EMBEDDED_DATABASE=true', () => {
    expect(load({ NODE_ENV: 'production', SECRET_KEY: LONG_KEY, ALLOW_EMBEDDED_DATABASE: 'true' }).db.url).toBeUndefined();
  });

  it('reads the pool size, the statement timeout and the metrics port', () => {
    const config = load({ DATABASE_POOL_MAX: '4', DATABASE_STATEMENT_TIMEOUT_MS: '5000', METRICS_PORT: '9464' });
    expect(config).toMatchObject({ db: { poolMax: 4, statementTimeoutMs: 5000 }, metrics: { port: 9464 } });
  });

  it('prepares statements by default, not when DATABASE_LISTEN_URL says the pool is a transaction pooler, and as DATABASE_PREPARED_STATEMENTS says', () => {
    const pooled = { DATABASE_URL: 'postgres://app@pgbouncer:6432/app', DATABASE_LISTEN_URL: 'postgres://app@db:5432/app' };
    expect(load({ DATABASE_URL: 'postgres://app@db:5432/app' }).db.preparedStatements).toBe(true);
    expect(load({ DATABASE_URL: 'postgres://app@db:5432/app', DATABASE_LISTEN_URL: 'postgres://app@db:5432/app' }).db.preparedStatements).toBe(true);
    expect(load(pooled).db.preparedStatements).toBe(false);
    expect(load({ ...pooled, DATABASE_PREPARED_STATEMENTS: 'true' }).db.preparedStatements).toBe(true);
    expect(load({ DATABASE_PREPARED_STATEMENTS: 'false' }).db.preparedStatements).toBe(false);
    expect(failureOf({ DATABASE_PREPARED_STATEMENTS: 'yes' }).problems.map((p) => p.split(' ')[0])).toEqual(['DATABASE_PREPARED_STATEMENTS']);
  });

  it('refuses a pool of no connections and metrics on the API port', () => {
    const error = failureOf({ DATABASE_POOL_MAX: '0', PORT: '8000', METRICS_PORT: '8000', ALLOW_EMBEDDED_DATABASE: 'yes' });
    expect(error.problems.map((p) => p.split(' ')[0]).sort()).toEqual(['ALLOW_EMBEDDED_DATABASE', 'DATABASE_POOL_MAX', 'METRICS_PORT']);
  });

  it('reads the sync retention (30 days by default) and the listen URL, which defaults to none', () => {
    expect(load({})).toMatchObject({ sync: { retentionSeconds: 2_592_000 }, db: { listenUrl: undefined } });
    const config = load({ SYNC_RETENTION_SECONDS: '86400', DATABASE_URL: 'postgres://app@pgbouncer:6432/app', DATABASE_LISTEN_URL: 'postgres://app@db:5432/app' });
    expect(config).toMatchObject({ sync: { retentionSeconds: 86_400 }, db: { listenUrl: 'postgres://app@db:5432/app' } });
  });

  it('refuses a sync retention under a minute, and a listen URL that is not PostgreSQL or comes without DATABASE_URL, without echoing it', () => {
    const error = failureOf({ SYNC_RETENTION_SECONDS: '59', DATABASE_LISTEN_URL: 'mysql://u:s3cret@db/app' });
    expect(error.problems.map((p) => p.split(' ')[0]).sort()).toEqual(['DATABASE_LISTEN_URL', 'DATABASE_LISTEN_URL', 'SYNC_RETENTION_SECONDS']);
    expect(error.message).not.toMatch(/s3cret/);
  });

  it('never echoes secret values in the error', () => {
    const error = failureOf({ NODE_ENV: 'production', SECRET_KEY: 'hunter2', DATABASE_URL: 'mysql://u:s3cret@db/app' });
    expect(error.message).not.toMatch(/hunter2|s3cret/);
  });

  it('generates a development key and keeps it in the data directory, readable only by the owner', () => {
    const { auth } = load({ NODE_ENV: 'development' });
    const file = join(dataDir, 'secret_key');
    expect(readFileSync(file, 'utf8').trim()).toBe(auth.secretKey);
    expect(auth.secretKey.length).toBeGreaterThanOrEqual(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('reuses the kept development key on the next start', () => {
    const first = load({ NODE_ENV: 'development' }).auth.secretKey;
    expect(load({ NODE_ENV: 'development' }).auth.secretKey).toBe(first);
  });

  it('uses an in-memory key in test mode without touching the disk', () => {
    const { auth } = load({ NODE_ENV: 'test' });
    expect(auth.secretKey.length).toBeGreaterThanOrEqual(32);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('refuses ADMIN_EMAIL without ADMIN_PASSWORD', () => {
    expect(failureOf({ NODE_ENV: 'test', ADMIN_EMAIL: 'admin@example.com' }).message).toMatch(/ADMIN_PASSWORD must be set together with ADMIN_EMAIL/);
  });

  it('refuses an ADMIN_PASSWORD longer than 72 bytes of UTF-8', () => {
    const password = `${'é'.repeat(36)}a`; // 37 characters, 73 bytes
    const error = failureOf({ NODE_ENV: 'test', ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: password });
    expect(error.message).toMatch(/ADMIN_PASSWORD must be 8 characters to 72 bytes/);
  });

  it('lower-cases the admin email', () => {
    const config = load({ NODE_ENV: 'test', ADMIN_EMAIL: 'Admin@Example.com', ADMIN_PASSWORD: 'correct horse' });
    expect(config.admin).toEqual({ email: 'admin@example.com', password: 'correct horse' });
  });
});

describe('account mail variables (1.2)', () => {
  const SMTP = 'smtps://api:s3cret-pass@smtp.example.com:465';
  const productionMail = {
    NODE_ENV: 'production',
    SECRET_KEY: LONG_KEY,
    DATABASE_URL: DB_URL,
    SMTP_URL: SMTP,
    MAIL_FROM: 'Tasks <no-reply@tasks.example.com>',
    PASSWORD_RESET_URL: 'https://app.example.com/reset?token={token}',
    EMAIL_VERIFICATION_URL: 'https://app.example.com/verify/{token}',
  };

  it('defaults to logging mails in development, with links into this server’s Swagger UI', () => {
    expect(load({ PORT: '8080' }).mail).toEqual({
      transport: 'log',
      smtpUrl: undefined,
      from: 'Task Management <no-reply@localhost>',
      passwordResetUrl: 'http://localhost:8080/docs#/Auth/confirmPasswordReset/{token}',
      emailVerificationUrl: 'http://localhost:8080/docs#/Auth/verifyEmail/{token}',
      passwordResetTtlSeconds: 3600,
      emailVerificationTtlSeconds: 86_400,
      requireVerifiedEmail: false,
    });
  });

  it('sends no mail in production without SMTP_URL, and still starts (a 1.1 deployment)', () => {
    expect(load({ NODE_ENV: 'production', SECRET_KEY: LONG_KEY, DATABASE_URL: DB_URL }).mail.transport).toBe('none');
  });

  it('sends through SMTP when SMTP_URL is set', () => {
    const config = load(productionMail);
    expect(config.mail).toMatchObject({ transport: 'smtp', smtpUrl: SMTP, from: productionMail.MAIL_FROM, passwordResetUrl: productionMail.PASSWORD_RESET_URL });
  });

  it.each([
    ['SMTP_URL', 'http://smtp.example.com'],
    ['SMTP_URL', 'smtp.example.com:587'],
    ['MAIL_FROM', 'not an address'],
    ['MAIL_FROM', 'Tasks <no-reply>'],
    ['PASSWORD_RESET_URL', 'https://app.example.com/reset'],
    ['PASSWORD_RESET_URL', 'ftp://app.example.com/{token}'],
    ['EMAIL_VERIFICATION_URL', '/verify?token={token}'],
    ['PASSWORD_RESET_TTL_SECONDS', '59'],
    ['EMAIL_VERIFICATION_TTL_SECONDS', 'a day'],
    ['REQUIRE_VERIFIED_EMAIL', 'yes'],
  ])('names %s in the error when it is %j', (variable, value) => {
    const error = failureOf({ NODE_ENV: 'test', [variable]: value });
    expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${variable} must `));
    expect(error.problems).toHaveLength(1);
  });

  it('needs MAIL_FROM and both link URLs in production when SMTP_URL is set (their defaults point at localhost)', () => {
    const { MAIL_FROM: _f, PASSWORD_RESET_URL: _r, EMAIL_VERIFICATION_URL: _v, ...rest } = productionMail;
    const error = failureOf(rest);
    expect(error.problems.map((p) => p.split(' ')[0]).sort()).toEqual(['EMAIL_VERIFICATION_URL', 'MAIL_FROM', 'PASSWORD_RESET_URL']);
  });

  it('refuses REQUIRE_VERIFIED_EMAIL=true in production without SMTP_URL: no one could ever verify', () => {
    const error = failureOf({ NODE_ENV: 'production', SECRET_KEY: LONG_KEY, DATABASE_URL: DB_URL, REQUIRE_VERIFIED_EMAIL: 'true' });
    expect(error.message).toMatch(/REQUIRE_VERIFIED_EMAIL needs SMTP_URL/);
  });

  it('never echoes SMTP_URL, which carries a password', () => {
    expect(failureOf({ NODE_ENV: 'test', SMTP_URL: 'imap://api:s3cret-pass@mail.example.com' }).message).not.toContain('s3cret');
  });
});
