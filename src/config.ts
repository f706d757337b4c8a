import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { MAX_PASSWORD_BYTES, passwordTooLong } from './auth/passwords.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
  }
}

/** A start-up failure the operator can fix (a port in use, an unwritable DATA_DIR): one log line, no stack trace. */
export class StartupError extends Error {
  override name = 'StartupError';
}

const MIN_PRODUCTION_KEY = 32;
const PRODUCTION_STATEMENT_TIMEOUT_MS = 5000;
// Echoing these into start-up logs would leak credentials.
const SECRET_VARS = new Set(['SECRET_KEY', 'ADMIN_PASSWORD', 'DATABASE_URL', 'DATABASE_LISTEN_URL', 'SMTP_URL']);

const optionalInt = (min: number, max: number) => {
  const message = `must be an integer between ${min} and ${max}`;
  return z.string().regex(/^\d+$/, message).transform(Number).pipe(z.number().min(min, message).max(max, message)).optional();
};
const int = (min: number, max: number, fallback: number) => optionalInt(min, max).default(fallback);

// Each item is normalised by `parse`, which returns undefined for an item it rejects.
const list = (parse: (item: string) => string | undefined, message: string) =>
  z
    .string()
    .transform((value, ctx) => {
      const items = value.split(',').map((s) => s.trim()).filter(Boolean).map(parse);
      if (items.every((s) => s !== undefined)) return items;
      ctx.issues.push({ code: 'custom', message, input: value });
      return z.NEVER;
    })
    .default([]);

function toOrigin(item: string): string | undefined {
  if (item === '*') return item;
  try {
    const url = new URL(item);
    const bare = url.href === `${url.origin}/`; // no path, query, fragment or credentials
    return bare && (url.protocol === 'http:' || url.protocol === 'https:') ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

// The same forms express's `trust proxy` accepts, so a typo fails here and not at first request.
function toProxy(item: string): string | undefined {
  if (item === 'loopback' || item === 'linklocal' || item === 'uniquelocal') return item;
  const [address = '', prefix, ...rest] = item.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return undefined;
  if (prefix === undefined) return item;
  return /^\d+$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128) ? item : undefined;
}

const isPostgresUrl = (value: string) => {
  try {
    return /^postgres(ql)?:\/\//i.test(value) && new URL(value).hostname !== '';
  } catch {
    return false;
  }
};

const isSmtpUrl = (value: string) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== '';
  } catch {
    return false;
  }
};

// `no-reply@example.com` or `Task Management <no-reply@example.com>`.
const isMailbox = (value: string) => /^(?:[^<>@]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/.test(value.trim());

// A link a mail carries: `{token}` marks where its token goes (base64url, so it needs no escaping).
const isLinkTemplate = (value: string) => {
  try {
    const url = new URL(value.replaceAll('{token}', 'token'));
    return value.includes('{token}') && (url.protocol === 'http:' || url.protocol === 'https:');
  } catch {
    return false;
  }
};
const linkTemplate = z
  .string()
  .refine(isLinkTemplate, 'must be an http(s) URL with {token} where the token goes, such as https://app.example.com/reset-password?token={token}')
  .optional();

// Development defaults: Swagger UI opened at the operation that takes the token (its deep link
// ignores what follows the operation), so `make run` prints links a newcomer can follow.
const DEFAULT_MAIL_FROM = 'Task Management <no-reply@localhost>';
const docsLink = (port: number, operationId: string) => `http://localhost:${port}/docs#/Auth/${operationId}/{token}`;

const randomKey = () => randomBytes(48).toString('base64url');

function readKey(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

// A development key kept on disk so that tokens survive a restart.
function developmentKey(dataDir: string): string {
  const file = join(dataDir, 'secret_key');
  try {
    let key = readKey(file);
    if (key === undefined) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      // Write aside, then hard-link: concurrent first starts agree on one key and never read a half-written file.
      const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
      writeFileSync(temp, `${randomKey()}\n`, { mode: 0o600 });
      try {
        linkSync(temp, file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        unlinkSync(temp);
      }
      key = readKey(file);
    }
    if (key) return key;
    throw new Error(`${file} is empty; delete it to generate a new key`);
  } catch (error) {
    throw new ConfigError([`SECRET_KEY is unset and no development key could be kept in DATA_DIR: ${(error as Error).message}`]);
  }
}

function resolveSecret(nodeEnv: string, given: string | undefined, dataDir: string): string {
  if (given !== undefined) return given;
  return nodeEnv === 'test' ? randomKey() : developmentKey(dataDir); // production never gets here
}

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test'], 'must be development, production or test').default('development'),
    PORT: int(0, 65535, 8000),
    DATABASE_URL: z.string().refine(isPostgresUrl, 'must be a postgres:// or postgresql:// URL').optional(),
    DATA_DIR: z.string().default('.data'),
    SECRET_KEY: z.string().optional(),
    ACCESS_TOKEN_TTL: int(60, 86_400, 900),
    REFRESH_TOKEN_TTL: int(300, 90 * 86_400, 7 * 86_400),
    BCRYPT_ROUNDS: int(4, 15, 12),
    CORS_ORIGINS: list(toOrigin, 'must be a comma-separated list of http(s) origins such as https://app.example.com, or *'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'must be one of fatal, error, warn, info, debug, trace, silent')
      .default('info'),
    LOG_FORMAT: z.enum(['json', 'pretty'], 'must be json or pretty').optional(),
    WEB_CONCURRENCY: int(1, 64, 1),
    ADMIN_EMAIL: z.email('must be a valid email address').max(254, 'must be at most 254 characters').transform((s) => s.toLowerCase()).optional(),
    ADMIN_PASSWORD: z
      .string()
      .refine((s) => [...s].length >= 8 && !passwordTooLong(s), `must be 8 characters to ${MAX_PASSWORD_BYTES} bytes of UTF-8 (the bcrypt limit)`)
      .optional(),
    REFRESH_REUSE_GRACE_SECONDS: int(0, 300, 0),
    LOGIN_MAX_FAILURES: int(1, 1000, 10),
    LOGIN_WINDOW_SECONDS: int(1, 86_400, 900),
    LOGIN_ACCOUNT_MAX_FAILURES: int(0, 1_000_000, 100),
    MAX_SESSIONS_PER_USER: int(0, 1_000_000, 100),
    AUTH_RATE_LIMIT: int(0, 1_000_000, 1000),
    REQUEST_TIMEOUT_SECONDS: int(1, 3600, 30),
    PASSWORD_RATE_LIMIT: int(0, 1_000_000, 100),
    USER_WRITE_RATE_LIMIT: int(0, 1_000_000, 600),
    // Fair share (1.2): one user's requests in flight and reads a minute, across every process.
    USER_CONCURRENCY_LIMIT: int(0, 10_000, 16),
    USER_READ_RATE_LIMIT: int(0, 1_000_000, 3000),
    IDEMPOTENCY_KEY_TTL_SECONDS: int(1, 30 * 86_400, 86_400),
    IDEMPOTENCY_KEYS_PER_USER: int(1, 1_000_000, 1000),
    TRUSTED_PROXIES: list(toProxy, 'must be a comma-separated list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal'),
    ALLOW_EMBEDDED_DATABASE: z.enum(['true', 'false'], 'must be true or false').default('false').transform((s) => s === 'true'),
    DATABASE_POOL_MAX: int(1, 1000, 10),
    // Default by NODE_ENV, below: production cuts a runaway statement off, development lets it run.
    DATABASE_STATEMENT_TIMEOUT_MS: optionalInt(0, 3_600_000),
    // Unset: on, unless a DATABASE_LISTEN_URL other than DATABASE_URL says that DATABASE_URL goes
    // through a transaction pooler.
    DATABASE_PREPARED_STATEMENTS: z.enum(['true', 'false'], 'must be true or false').optional().transform((s) => (s === undefined ? undefined : s === 'true')),
    METRICS_PORT: optionalInt(0, 65535),
    // Account mail (1.2): password reset and e-mail verification.
    SMTP_URL: z.string().refine(isSmtpUrl, 'must be an smtp:// or smtps:// URL, such as smtps://user:password@smtp.example.com:465').optional(),
    MAIL_FROM: z.string().refine(isMailbox, 'must be an address, or a name and an address such as Task Management <no-reply@example.com>').optional(),
    PASSWORD_RESET_URL: linkTemplate,
    EMAIL_VERIFICATION_URL: linkTemplate,
    PASSWORD_RESET_TTL_SECONDS: int(60, 7 * 86_400, 3600),
    EMAIL_VERIFICATION_TTL_SECONDS: int(60, 30 * 86_400, 86_400),
    REQUIRE_VERIFIED_EMAIL: z.enum(['true', 'false'], 'must be true or false').default('false').transform((s) => s === 'true'),
    // Bind addresses and the stop's timings (issue 23).
    HOST: z.string().refine((s) => isIP(s) !== 0, 'must be an IP address such as 0.0.0.0, 127.0.0.1 or ::').optional(),
    METRICS_HOST: z.string().refine((s) => isIP(s) !== 0, 'must be an IP address such as 0.0.0.0, 127.0.0.1 or ::').optional(),
    SHUTDOWN_DRAIN_SECONDS: int(0, 300, 5),
    SHUTDOWN_GRACE_SECONDS: int(1, 600, 4),
    // Staying in sync (1.2): how long deletions are kept for GET /tasks/changes, and the direct
    // (session) connection that LISTENs for changes when DATABASE_URL goes through a pooler.
    SYNC_RETENTION_SECONDS: int(60, 366 * 86_400, 30 * 86_400),
    DATABASE_LISTEN_URL: z.string().refine(isPostgresUrl, 'must be a postgres:// or postgresql:// URL').optional(),
  })
  // `when` makes this run even after single variables failed (so every problem is reported in one go);
  // values may then still be raw, hence only presence and equality tests here.
  .superRefine((e, ctx) => {
    const problem = (variable: string, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
    if (e.NODE_ENV === 'production' && (e.SECRET_KEY ?? '').length < MIN_PRODUCTION_KEY) {
      const need = `at least ${MIN_PRODUCTION_KEY} characters`;
      problem('SECRET_KEY', e.SECRET_KEY === undefined ? `must be set in production (${need})` : `must be ${need} in production`);
    }
    if (e.ADMIN_EMAIL !== undefined && e.ADMIN_PASSWORD === undefined) problem('ADMIN_PASSWORD', 'must be set together with ADMIN_EMAIL');
    if (e.ADMIN_PASSWORD !== undefined && e.ADMIN_EMAIL === undefined) problem('ADMIN_EMAIL', 'must be set together with ADMIN_PASSWORD');
    // PGlite is an in-process database: several workers would each open, and corrupt, the same files.
    // A container's file system, DATA_DIR included, is gone after the next deploy.
    if (e.NODE_ENV === 'production' && e.DATABASE_URL === undefined && e.ALLOW_EMBEDDED_DATABASE !== true) {
      problem('DATABASE_URL', 'must be set in production: the embedded database lives in DATA_DIR and is lost when a container is replaced (set ALLOW_EMBEDDED_DATABASE=true to run it anyway, on a persistent volume)');
    }
    if (e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) problem('METRICS_PORT', 'must differ from PORT (metrics are served on their own listener)');
    if (e.DATABASE_LISTEN_URL !== undefined && e.DATABASE_URL === undefined) problem('DATABASE_LISTEN_URL', 'must be set only together with DATABASE_URL (the embedded database notifies in-process)');
    if (e.DATABASE_URL === undefined && e.WEB_CONCURRENCY > 1) problem('WEB_CONCURRENCY', 'must be 1 unless DATABASE_URL is set (the embedded database serves one process)');
    // Their defaults are for development: in production they would mail links to localhost.
    if (e.NODE_ENV === 'production' && e.SMTP_URL !== undefined) {
      for (const name of ['MAIL_FROM', 'PASSWORD_RESET_URL', 'EMAIL_VERIFICATION_URL'] as const) {
        if (e[name] === undefined) problem(name, 'must be set in production when SMTP_URL is (its default is for development)');
      }
    }
    if (e.NODE_ENV === 'production' && e.REQUIRE_VERIFIED_EMAIL === true && e.SMTP_URL === undefined) {
      problem('REQUIRE_VERIFIED_EMAIL', 'needs SMTP_URL in production: without mail no new account could ever be verified');
    }
  }, { when: () => true })
  .transform((e) => ({
    env: e.NODE_ENV,
    dataDir: resolve(e.DATA_DIR),
    logLevel: e.LOG_LEVEL,
    // JSON lines unless someone is developing: log shippers read those, people read pretty ones.
    logFormat: e.LOG_FORMAT ?? (e.NODE_ENV === 'development' ? 'pretty' : 'json'),
    webConcurrency: e.WEB_CONCURRENCY,
    http: { port: e.PORT, host: e.HOST, corsOrigins: e.CORS_ORIGINS, trustedProxies: e.TRUSTED_PROXIES, requestTimeoutSeconds: e.REQUEST_TIMEOUT_SECONDS },
    db: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS ?? (e.NODE_ENV === 'production' ? PRODUCTION_STATEMENT_TIMEOUT_MS : 0),
      listenUrl: e.DATABASE_LISTEN_URL,
      preparedStatements: e.DATABASE_PREPARED_STATEMENTS ?? (e.DATABASE_LISTEN_URL === undefined || e.DATABASE_LISTEN_URL === e.DATABASE_URL),
    },
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST },
    shutdown: { drainSeconds: e.SHUTDOWN_DRAIN_SECONDS, graceSeconds: e.SHUTDOWN_GRACE_SECONDS },
    auth: {
      secretKey: resolveSecret(e.NODE_ENV, e.SECRET_KEY, resolve(e.DATA_DIR)),
      accessTokenTtl: e.ACCESS_TOKEN_TTL,
      refreshTokenTtl: e.REFRESH_TOKEN_TTL,
      bcryptRounds: e.BCRYPT_ROUNDS,
      refreshReuseGraceSeconds: e.REFRESH_REUSE_GRACE_SECONDS,
      // 0: no cap.
      maxSessionsPerUser: e.MAX_SESSIONS_PER_USER,
    },
    // 0 turns a per-minute limit off.
    limits: {
      authRequestsPerMinute: e.AUTH_RATE_LIMIT,
      passwordChecksPerMinute: e.PASSWORD_RATE_LIMIT,
      taskWritesPerMinute: e.USER_WRITE_RATE_LIMIT,
      userRequestsInFlight: e.USER_CONCURRENCY_LIMIT,
      userReadsPerMinute: e.USER_READ_RATE_LIMIT,
      loginMaxFailures: e.LOGIN_MAX_FAILURES,
      loginWindowSeconds: e.LOGIN_WINDOW_SECONDS,
      loginAccountMaxFailures: e.LOGIN_ACCOUNT_MAX_FAILURES,
    },
    idempotency: { keyTtlSeconds: e.IDEMPOTENCY_KEY_TTL_SECONDS, keysPerUser: e.IDEMPOTENCY_KEYS_PER_USER },
    mail: {
      // Without SMTP_URL, development writes each mail to the log; production sends none.
      transport: e.SMTP_URL !== undefined ? 'smtp' : e.NODE_ENV === 'production' ? 'none' : 'log',
      smtpUrl: e.SMTP_URL,
      from: e.MAIL_FROM ?? DEFAULT_MAIL_FROM,
      passwordResetUrl: e.PASSWORD_RESET_URL ?? docsLink(e.PORT, 'confirmPasswordReset'),
      emailVerificationUrl: e.EMAIL_VERIFICATION_URL ?? docsLink(e.PORT, 'verifyEmail'),
      passwordResetTtlSeconds: e.PASSWORD_RESET_TTL_SECONDS,
      emailVerificationTtlSeconds: e.EMAIL_VERIFICATION_TTL_SECONDS,
      requireVerifiedEmail: e.REQUIRE_VERIFIED_EMAIL,
    } as const,
    sync: { retentionSeconds: e.SYNC_RETENTION_SECONDS },
    admin: e.ADMIN_EMAIL !== undefined && e.ADMIN_PASSWORD !== undefined ? { email: e.ADMIN_EMAIL, password: e.ADMIN_PASSWORD } : undefined,
  }));

export type Config = z.output<typeof schema>;

/** Every variable the configuration reads (`.env.example` must list each). */
export const configVariables = Object.keys(schema.in.shape);

/**
 * Reads and validates the configuration once, at start-up. An empty variable counts as unset.
 * `opts.dataDir` overrides DATA_DIR (tests point it at a temporary directory).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts?: { dataDir?: string }): Config {
  const input = Object.fromEntries(
    configVariables.map((name) => [name, env[name] === '' ? undefined : env[name]]),
  );
  if (opts?.dataDir !== undefined) input.DATA_DIR = opts.dataDir;
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const value = input[name];
      return value === undefined || SECRET_VARS.has(name) ? `${name} ${issue.message}` : `${name} ${issue.message} (got ${JSON.stringify(value)})`;
    }),
  );
}

/** For entry points: a bad configuration ends the process with its message, not a stack trace. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
