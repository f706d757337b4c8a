/** What a handler returns; the glue validates it (in tests) and writes it. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Defaults to application/json (application/problem+json for errors). */
  contentType?: string;
  /** A body written over time instead (Server-Sent Events): called once the headers are sent. */
  stream?: (out: Outlet) => void;
}

/** A streamed body's side of the connection, free of express. */
export interface Outlet {
  /** Queues text for the client; false when its buffer is full: wait for drained() before more. */
  write(text: string): boolean;
  /** Resolves when the client's buffer has room again, or the connection has closed. */
  drained(): Promise<void>;
  end(): void;
  /** Resolves when the connection closes, from either side. */
  closed: Promise<void>;
}

export const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({ status, body, headers });
export const noContent = (): Reply => ({ status: 204 });
