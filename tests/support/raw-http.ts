import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  body: string;
}

/**
 * One TCP connection that sends bytes exactly as given, for requests fetch cannot make: no
 * `Host`, an `Expect` header, headers or a body trickled over seconds, several requests on one
 * keep-alive connection.
 */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private timers = new Set<NodeJS.Timeout>();
  /** Resolves when the server has closed the connection (or reset it). */
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        for (const timer of this.timers) clearInterval(timer);
        this.waiting?.();
        resolve();
      }),
    );
  }

  static async open(baseUrl: string): Promise<RawConnection> {
    const { hostname, port } = new URL(baseUrl);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawConnection(socket);
  }

  write(data: string | Buffer): void {
    if (!this.isClosed) this.socket.write(data);
  }

  /** Sends `data` one byte every `everyMs` until it is all sent or the server closes. */
  trickle(data: string | Buffer, everyMs: number): void {
    const bytes = Buffer.from(data);
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < bytes.length) this.write(bytes.subarray(sent, ++sent));
      else clearInterval(timer);
    }, everyMs);
    this.timers.add(timer);
  }

  /** The next complete response (bodies are read by Content-Length); throws if the server closes first. */
  async response(): Promise<RawResponse> {
    for (;;) {
      const parsed = this.take();
      if (parsed) return parsed;
      if (this.isClosed) throw new Error(`the server closed the connection; received ${JSON.stringify(this.buffer.toString())}`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private take(): RawResponse | undefined {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine = '', ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    const length = Number(headers['content-length'] ?? 0);
    if (this.buffer.length < end + 4 + length) return undefined;
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }
}
