import type { Response } from 'express';
import type { Outlet, Reply } from './reply.js';

export interface Sent {
  reply: Reply;
  contentType: string;
  /** Every header sent, including those set by middleware (X-Request-Id, CORS). */
  headers: Record<string, unknown>;
}

export function send(res: Response, reply: Reply): Sent {
  const contentType =
    reply.contentType ?? (reply.status >= 400 ? 'application/problem+json' : 'application/json');
  res.status(reply.status);
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.stream) {
    res.setHeader('Content-Type', `${contentType}; charset=utf-8`);
    res.flushHeaders();
    reply.stream(outletOf(res));
  } else if (reply.body === undefined) {
    res.end();
  } else {
    res.setHeader('Content-Type', `${contentType}; charset=utf-8`);
    res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
  }
  return { reply, contentType, headers: res.getHeaders() };
}

function outletOf(res: Response): Outlet {
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  const open = () => !res.writableEnded && !res.destroyed;
  return {
    write: (text) => open() && res.write(text),
    drained: () => Promise.race([closed, new Promise<void>((resolve) => res.once('drain', resolve))]),
    end: () => void (open() && res.end()),
    closed,
  };
}
