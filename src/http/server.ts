import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, STATUS_CODES, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError } from './problem.js';

/**
 * Requests Node's HTTP parser refuses before express sees them (oversized headers, malformed
 * request lines) still get problem+json and an X-Request-Id.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex) {
  if (error.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const problem = new AppError(status, status === 431 ? 'headers-too-large' : 'bad-request', 'The request could not be parsed as HTTP.');
  const body = JSON.stringify({ ...problem.toProblem(), title: STATUS_CODES[status] });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
      `X-Request-Id: ${randomUUID()}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export async function listen(app: RequestListener, port: number, host?: string): Promise<Server> {
  const server = createServer(app);
  server.on('clientError', answerClientError);
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

/** Stops accepting, lets requests in flight finish (up to `graceMs`), then cuts what is left. */
export async function stop(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}
