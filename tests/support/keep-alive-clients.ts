import { Agent, request } from 'node:http';

export interface Tally {
  /** Answered requests, by status. */
  statuses: Record<number, number>;
  /** Answers that said `Connection: close`. */
  closes: number;
  /** Requests that failed: a reset, a hang-up, a timeout (error codes). */
  failures: string[];
  /** Clients that found the listener closed (ECONNREFUSED) after being told to close, and stopped. */
  refusedAfterClose: number;
}

export interface ClientsOptions {
  baseUrl: string;
  clients: number;
  /** The request each client sends, in turn, for as long as it runs. */
  next(client: number, sent: number): { method: string; path: string; body?: unknown; headers?: Record<string, string> };
  /** Clients stop when this resolves, or when the server refuses them after `Connection: close`. */
  until: Promise<unknown>;
  timeoutMs?: number;
}

function send(agent: Agent, url: URL, init: ReturnType<ClientsOptions['next']>, timeoutMs: number) {
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  return new Promise<{ status: number; connection?: string }>((resolve, reject) => {
    const req = request(url, {
      agent,
      method: init.method,
      timeout: timeoutMs,
      headers: { ...init.headers, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) },
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
      res.on('error', reject);
    });
    req.end(body);
  });
}

/**
 * `clients` clients, each on its own kept-alive connection (one socket per client, as a proxy's
 * upstream pool keeps them), sending one request after another. A client told `Connection: close`
 * opens a new connection for its next request; one refused then has been moved off the server (a
 * load balancer would pick another instance) and stops. Anything else that ends a request without
 * an answer is a failure.
 */
export async function runKeepAliveClients({ baseUrl, clients, next, until, timeoutMs = 10_000 }: ClientsOptions): Promise<Tally> {
  const tally: Tally = { statuses: {}, closes: 0, failures: [], refusedAfterClose: 0 };
  let stopped = false;
  void until.then(() => (stopped = true));
  const client = async (index: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let toldToClose = false;
    try {
      for (let sent = 0; !stopped; sent++) {
        const init = next(index, sent);
        try {
          const { status, connection } = await send(agent, new URL(init.path, baseUrl), init, timeoutMs);
          tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
          toldToClose = connection === 'close';
          if (toldToClose) tally.closes++;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? String(error);
          if (code === 'ECONNREFUSED' && toldToClose) {
            tally.refusedAfterClose++;
            return;
          }
          tally.failures.push(`${init.method} ${init.path}: ${code}`);
          if (code === 'ECONNREFUSED') return;
        }
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  return tally;
}
