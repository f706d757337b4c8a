import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

// One line per request in pretty output, instead of pino-http's nested objects.
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
