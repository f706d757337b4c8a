import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, STATUS_CODES, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
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
// While stopping, how often idle connections are looked for, and how long a connection must have
// been idle to be closed: a client that has just had an answer may be sending its next request
// right now, and closing under it is exactly the reset a graceful stop must avoid.
const IDLE_SWEEP_MS = 100;
const IDLE_BEFORE_CLOSE_MS = 1000;

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
  /** Bind address (HOST); unset: every interface. */
  host?: string;
  requestTimeoutSeconds: number;
}

interface Connection {
  /** Requests read and not yet answered. */
  responses: Set<ServerResponse>;
  idleSince: number;
}

const connections = new WeakMap<Server, Map<Socket, Connection>>();
const stopping = new WeakSet<Server>();

/**
 * Knows, for a graceful stop, which connections carry a request and since when the others have
 * been idle; once the server is stopping, every answer says `Connection: close`.
 */
function trackConnections(server: Server) {
  const all = new Map<Socket, Connection>();
  connections.set(server, all);
  server.on('connection', (socket: Socket) => {
    all.set(socket, { responses: new Set(), idleSince: Date.now() });
    socket.once('close', () => all.delete(socket));
  });
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const connection = all.get(req.socket);
    if (!connection) return;
    connection.responses.add(res);
    if (stopping.has(server)) res.setHeader('Connection', 'close');
    res.once('close', () => {
      connection.responses.delete(res);
      connection.idleSince = Date.now();
    });
  };
  // Before the app's listener, so that the header is set before anything is sent.
  for (const event of ['request', 'checkContinue', 'checkExpectation']) server.prependListener(event, onRequest);
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
  // Every header line is read, none dropped; the app refuses too many of them (protocol.ts).
  server.maxHeadersCount = 0;
  // Every request with an Expect header goes to the app too, which answers the expectation (protocol.ts).
  server.on('checkContinue', app);
  server.on('checkExpectation', app);
  server.on('clientError', answerClientError);
  trackConnections(server);
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

export interface StopOptions {
  /** How long to keep accepting (and answering) after the stop began, while /readyz says 503. */
  drainMs: number;
  /** Then, how long requests in flight may take before their connections are cut. */
  graceMs: number;
  /** Resolves when no other process takes connections for this listener any more (see src/cluster.ts). */
  listenersClosed?: () => Promise<void>;
}

/**
 * A stop that loses no request. For `drainMs` nothing changes but /readyz (the app's part), so that
 * load balancers move new requests elsewhere while this server still answers them. Then the
 * listener closes, and each kept-alive connection is told `Connection: close` on its next answer
 * instead of being cut under a request it may be sending; requests in flight finish; a connection
 * idle for a moment is closed; whatever is left after `graceMs` is cut.
 *
 * Keep-alive goes on during the drain on purpose: answering `Connection: close` then would make
 * every client reconnect for every request, and connections still waiting to be accepted when the
 * listener closes are reset by the kernel.
 */
export async function stop(server: Server, { drainMs, graceMs, listenersClosed }: StopOptions): Promise<void> {
  const all = connections.get(server) ?? new Map<Socket, Connection>();
  if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
  // net's close, not http's: since Node 19 http's also closes every idle connection at once,
  // including those whose client is sending a request at this very moment.
  const closed = new Promise((resolve) => NetServer.prototype.close.call(server, resolve));
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await listenersClosed?.();
  stopping.add(server);
  for (const { responses } of all.values()) {
    for (const res of responses) if (!res.headersSent) res.setHeader('Connection', 'close');
  }
  const closeIdle = () => {
    const now = Date.now();
    for (const [socket, connection] of all) {
      if (connection.responses.size === 0 && now - connection.idleSince >= IDLE_BEFORE_CLOSE_MS) socket.destroy();
    }
  };
  closeIdle();
  const sweep = setInterval(closeIdle, IDLE_SWEEP_MS);
  await closed;
  clearInterval(sweep);
  clearTimeout(timer);
}
