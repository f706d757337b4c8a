import type { RequestHandler } from 'express';
import { problems } from '../http/problem.js';
import type { RateLimits } from './rate-limits.js';

const WINDOW_SECONDS = 60;

/**
 * Requests per client address per minute on /auth/*. `req.ip` honours X-Forwarded-For only from
 * TRUSTED_PROXIES, so a client cannot reset its count by sending that header.
 */
export function limitPerAddress(limits: RateLimits, perMinute: number): RequestHandler {
  return async (req, _res, next) => {
    if (perMinute === 0) return next();
    const window = await limits.hit(`address:${req.ip}`, WINDOW_SECONDS);
    if (window.hits > perMinute) {
      throw problems.tooManyRequests(window.resetsIn, 'Too many requests from this address; try again later.');
    }
    next();
  };
}
