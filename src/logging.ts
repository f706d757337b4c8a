import { format } from 'node:util';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

// One line per request in pretty output, instead of the access log's nested objects (src/http/access-log.ts).
const requestLine = (log: Record<string, unknown>, messageKey: string) => {
  const req = log.req as { method: string; path: string } | undefined;
  const res = log.res as { status: number } | undefined;
  const message = String(log[messageKey]);
  return req && res ? `${req.method} ${req.path} ${res.status} (${String(log.responseTime)} ms)` : message;
};

/**
 * JSON lines (the default outside development), or pino-pretty for people. pino-pretty is a dev
 * dependency, loaded only when asked for: a production install without it still starts, with JSON.
 */
export async function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>): Promise<Logger> {
  const options = { level: config.logLevel };
  if (config.logFormat === 'json') return pino(options);
  try {
    const { default: pretty } = await import('pino-pretty');
    return pino(options, pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,req,res,responseTime,reqId', messageFormat: requestLine }));
  } catch (error) {
    const logger = pino(options);
    logger.warn({ err: error }, 'LOG_FORMAT=pretty needs the pino-pretty dev dependency; logging JSON instead');
    return logger;
  }
}

/**
 * For JSON logs (production): every line the process writes is JSON. What libraries write with
 * console (knex's warnings with their stacks, pg's notices), Node's own warnings and a crash's
 * stack trace go through the logger, at their level, instead of as raw lines a log shipper
 * cannot read.
 */
export function routeConsoleToLogger(logger: Logger) {
  const to = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => logger[level]({ source: 'console' }, format(...args));
  console.debug = console.trace = to('debug');
  console.log = console.info = to('info');
  console.warn = to('warn');
  console.error = to('error');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn({ err: warning }, warning.message));
  // An unhandled rejection becomes an uncaught exception too (Node's default --unhandled-rejections=throw).
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, `uncaught exception: ${err.message}`);
    process.exit(1);
  });
}
