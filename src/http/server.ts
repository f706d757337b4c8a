import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, STATUS_CODES, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError } from './problem.js';

// Headers fit in a packet or two: 10 s is ample for a slow mobile link and is as long as a client
// that trickles its headers (slowloris) holds a socket.
const HEADERS_TIMEOUT_MS = 10_000;
// Longer than the 60 s idle timeout of AWS's load balancers and of nginx's upstream keep-alive, so
// that the balancer closes an idle connection first: were the server first, the balancer could send
// a request down a connection at the moment it closes, and its client would get a 502.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
// How often Node looks for requests past their timeouts; the default, 30 s, could double them.
const TIMEOUT_CHECK_INTERVAL_MS = 500;
// While stopping, how often connections whose last request has been answered are closed.
const IDLE_SWEEP_MS = 100;

/**
 * The server's timeouts. A whole request, headers and body, must arrive within the request
 * timeout (REQUEST_TIMEOUT_SECONDS), its headers within 10 s or the request timeout if that is
 * shorter (Node refuses a headers timeout longer than the request timeout).
 */
export function serverTimeouts(requestTimeoutSeconds: number) {
  const requestTimeout = requestTimeoutSeconds * 1000;
  return {
    requestTimeout,
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  };
}

const PARSER_ERRORS: Record<string, { status: number; slug: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, slug: 'headers-too-large', detail: 'The request could not be parsed as HTTP.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, slug: 'request-timeout', detail: 'The request was not received in full in time.' },
};
const UNPARSABLE = { status: 400, slug: 'bad-request', detail: 'The request could not be parsed as HTTP.' };

/**
 * Requests Node's HTTP parser refuses before express sees them (oversized headers, malformed
 * request lines, requests that arrive too slowly) still get problem+json and an X-Request-Id.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex) {
  // The response of a request being received (its body arrives too slowly): its X-Request-Id is
  // already chosen, and once it has begun, bytes written here would corrupt it.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) return socket.destroy();
  const { status, slug, detail } = PARSER_ERRORS[error.code ?? ''] ?? UNPARSABLE;
  const body = JSON.stringify(new AppError(status, slug, detail).toProblem());
  const id = inFlight?.getHeader('x-request-id') ?? randomUUID();
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
      `X-Request-Id: ${id}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export interface ListenOptions {
  port: number;
  host?: string;
  requestTimeoutSeconds: number;
}

export async function listen(app: RequestListener, { port, host, requestTimeoutSeconds }: ListenOptions): Promise<Server> {
  const server = createServer(
    {
      ...serverTimeouts(requestTimeoutSeconds),
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
      // Node would answer a request without Host bare; the app answers it as a problem (protocol.ts).
      requireHostHeader: false,
    },
    app,
  );
  // Every request with an Expect header goes to the app too, which answers the expectation (protocol.ts).
  server.on('checkContinue', app);
  server.on('checkExpectation', app);
  server.on('clientError', answerClientError);
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

/** Stops accepting, lets requests in flight finish (up to `graceMs`), then cuts what is left. */
export async function stop(server: Server, graceMs: number): Promise<void> {
  // close() ends the connections that are idle now; a keep-alive connection whose request is
  // answered later goes idle then, and would otherwise hold the process for the whole grace period.
  const closed = new Promise((resolve) => server.close(resolve));
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearInterval(sweep);
  clearTimeout(timer);
}
