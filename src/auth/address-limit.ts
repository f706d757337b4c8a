import type { RequestHandler } from 'express';
import { clientAddress } from '../limits/client-address.js';
import type { Limiter } from '../limits/index.js';

/** Requests per client address per minute on /auth/* (AUTH_RATE_LIMIT). */
export const limitPerAddress =
  (limiter: Limiter): RequestHandler =>
  async (req, _res, next) => {
    await limiter.take(clientAddress(req));
    next();
  };
