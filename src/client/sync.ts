import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Client } from 'openapi-fetch';
import type { components, paths } from '../../generated/openapi.js';
import { ApiProblem, ok, type Problem } from './index.js';

type Task = components['schemas']['Task'];
type TaskChange = components['schemas']['TaskChange'];

/** What to do with each change to the caller's tasks, in the order given. */
export interface ChangeHandlers {
  /** The task was created or changed: store it (replacing what you had). */
  upsert(task: Task): void | Promise<void>;
  /** The task was deleted, or is no longer the caller's: forget it (it may be one you never had). */
  delete(id: string, deletedAt: string): void | Promise<void>;
  /**
   * Your position is older than the server keeps deletions (410): forget every task you hold.
   * Every current task follows as an upsert.
   */
  reset(): void | Promise<void>;
}

export interface SyncOptions {
  /** Changes per page (1–1000, default 100). */
  limit?: number;
}

const apply = (change: TaskChange, handlers: ChangeHandlers) =>
  change.type === 'upsert' ? handlers.upsert(change.task) : handlers.delete(change.id, change.deleted_at);

/**
 * Brings a copy of the caller's tasks up to date: follows `GET /tasks/changes` from `since` (none:
 * from nothing) until it has everything, handing each change to `handlers` in order, and returns
 * the position to keep with the copy for next time. On 410 (a position too old) it calls
 * `reset()` and starts over from nothing. Other errors throw an ApiProblem.
 *
 *     since = await sync(api, since, { upsert: (t) => tasks.set(t.id, t), delete: (id) => tasks.delete(id), reset: () => tasks.clear() });
 */
export async function sync(client: Client<paths>, since: string | undefined, handlers: ChangeHandlers, options: SyncOptions = {}): Promise<string> {
  let position = since;
  for (;;) {
    const result = await client.GET('/tasks/changes', { params: { query: { since: position, limit: options.limit } } });
    if (result.response.status === 410 && position !== undefined) {
      await handlers.reset();
      position = undefined;
      continue;
    }
    const page = await ok(Promise.resolve(result));
    for (const change of page.changes) await apply(change, handlers);
    position = page.next_since;
    if (!page.has_more) return position;
  }
}

export interface SubscribeOptions extends ChangeHandlers {
  /** Where your copy stands (a `next_since`, or an event id); none: live changes from now on. */
  since?: string;
  /** Each new position, after every change and once caught up: keep it with your copy. */
  position?(since: string): void;
  /** Everything up to now has been handed over; live changes follow. After every reconnection too. */
  ready?(): void;
  /** A connection failed or ended; the subscription reconnects after `retryMs` or the server's hint. */
  disconnected?(error?: unknown): void;
  /** Wait before reconnecting (default 1 000 ms; doubled after each failure in a row, up to 30 s); the server's `retry:` hint wins. */
  retryMs?: number;
  signal?: AbortSignal;
}

export interface Subscription {
  /** Stops the subscription and closes its stream. */
  close(): void;
  /**
   * Settles when the subscription stops: resolves after close() (or the signal), rejects with an
   * ApiProblem when the server refuses it for good (401 once the refresh failed, 403, 422).
   */
  done: Promise<void>;
}

const MAX_RETRY_MS = 30_000;
// Worth trying again later: rate limited (429), the server or a proxy failing (5xx, 503 included).
const transient = (status: number) => status === 429 || status >= 500;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * Follows `GET /tasks/events`, handing each change to the handlers in order. It reads the stream
 * with fetch, so it sends the bearer token (browsers' EventSource cannot) through `client`, which
 * refreshes it when it has expired, and it reconnects whenever the stream ends or fails, with the
 * id of the last event as `Last-Event-ID`: nothing is missed across reconnections. On 410 it calls
 * `reset()` and syncs from nothing first.
 *
 *     const subscription = subscribe(api, { since, upsert, delete: remove, reset, position: save });
 */
export function subscribe(client: Client<paths>, options: SubscribeOptions): Subscription {
  const abort = new AbortController();
  options.signal?.addEventListener('abort', () => abort.abort(), { once: true });
  const firstRetry = options.retryMs ?? 1_000;
  let position = options.since;
  const moved = (to: string | undefined) => {
    if (to === undefined || to === position) return;
    position = to;
    options.position?.(to);
  };

  /** One connection: until the server ends the stream. Returns the retry hint it gave, if any. */
  async function connect(): Promise<number | undefined> {
    const result = await client.GET('/tasks/events', {
      params: { header: position === undefined ? {} : { 'Last-Event-ID': position } },
      headers: { Accept: 'text/event-stream' },
      parseAs: 'stream',
      signal: abort.signal,
    });
    const { response } = result;
    if (response.status === 410 && position !== undefined) {
      await options.reset();
      moved(await sync(client, undefined, options));
      return 0;
    }
    if (!response.ok || !result.data) {
      const problem = (result.error ?? { type: 'about:blank', title: response.statusText, status: response.status, detail: '' }) as Problem;
      if (transient(response.status)) throw Object.assign(new ApiProblem(problem), { retryAfter: Number(response.headers.get('retry-after')) || undefined });
      throw Object.assign(new ApiProblem(problem), { fatal: true });
    }
    let hint: number | undefined;
    const received: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (event) => received.push(event), onRetry: (ms) => (hint = ms) });
    const decoder = new TextDecoder();
    const reader = (result.data as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return hint;
        parser.feed(decoder.decode(value, { stream: true }));
        // Handed over one at a time, in order, even when the handlers are slow.
        for (const event of received.splice(0)) {
          if (event.event === 'upsert' || event.event === 'delete') await apply(JSON.parse(event.data) as TaskChange, options);
          moved(event.id);
          if (event.event === 'ready') options.ready?.();
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  const done = (async () => {
    let delay = firstRetry;
    while (!abort.signal.aborted) {
      let wait = delay;
      try {
        // The server ended the stream (the token expired, it restarts): back after retryMs, or when it says.
        const hint = await connect();
        delay = firstRetry;
        wait = hint ?? firstRetry;
        options.disconnected?.();
      } catch (error) {
        if (abort.signal.aborted) return;
        if ((error as { fatal?: boolean }).fatal) throw error;
        options.disconnected?.(error);
        const retryAfter = (error as { retryAfter?: number }).retryAfter;
        wait = retryAfter === undefined ? delay : retryAfter * 1000;
        delay = Math.min(delay * 2, MAX_RETRY_MS);
      }
      await sleep(wait, abort.signal);
    }
  })();
  return { close: () => abort.abort(), done };
}
