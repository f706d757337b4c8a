// What the floor and bcrypt-alone servers share: processes started the way the API starts its own
// (one process serves by itself; with WEB_CONCURRENCY > 1 a primary forks that many workers), and
// the two bits of HTTP they need.
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';

export interface Service {
  handler: RequestListener;
  close(): Promise<void>;
}

export async function serve(start: () => Promise<Service>): Promise<void> {
  const processes = Number(process.env.WEB_CONCURRENCY ?? 1);
  if (cluster.isPrimary && processes > 1) {
    for (let i = 0; i < processes; i++) cluster.fork();
    process.once('SIGTERM', () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    });
    return;
  }
  const service = await start();
  const server = createServer(service.handler);
  server.listen(Number(process.env.PORT));
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void service.close().then(() => process.exit(0));
  });
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** A JSON response with the headers the contract requires of every response. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': status >= 400 ? 'application/problem+json; charset=utf-8' : 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'X-Request-Id': randomUUID(),
    ...headers,
  });
  res.end(text);
}
