import { createParser } from 'eventsource-parser';
import type { TaskChange } from './sync.js';

export interface ServerEvent {
  event: string;
  id: string | undefined;
  data: unknown;
}

/** GET /tasks/events read as a raw stream: every event, comment and retry hint, in order. */
export interface EventStream {
  response: Response;
  events: ServerEvent[];
  comments: string[];
  retries: number[];
  /** The next event not taken yet that `match` accepts (any, by default), within `timeoutMs`. */
  next(match?: (event: ServerEvent) => boolean, timeoutMs?: number): Promise<ServerEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export const isChange = (event: ServerEvent) => event.event === 'upsert' || event.event === 'delete';
export const changeOf = (event: ServerEvent) => event.data as TaskChange;

/** Opens the stream with plain fetch, as any client could, and reads it in the background. */
export async function openEvents(
  baseUrl: string,
  accessToken: string,
  options: { since?: string; lastEventId?: string } = {},
): Promise<EventStream> {
  const abort = new AbortController();
  const query = options.since === undefined ? '' : `?since=${encodeURIComponent(options.since)}`;
  const headers: Record<string, string> = { Accept: 'text/event-stream', Authorization: `Bearer ${accessToken}` };
  if (options.lastEventId !== undefined) headers['Last-Event-ID'] = options.lastEventId;
  const response = await fetch(`${baseUrl}/tasks/events${query}`, { headers, signal: abort.signal });

  const events: ServerEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  let taken = 0;
  let wakeUp: (() => void) | undefined;
  const changed = () => wakeUp?.();
  const parser = createParser({
    onEvent: ({ event, id, data }) => {
      events.push({ event: event ?? 'message', id, data: JSON.parse(data) });
      changed();
    },
    onComment: (comment) => comments.push(comment),
    onRetry: (ms) => retries.push(ms),
  });

  let done = false;
  const ended = (async () => {
    if (!response.ok || !response.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch {
      // aborted by close()
    } finally {
      done = true;
      changed();
    }
  })();

  async function next(match: (event: ServerEvent) => boolean = () => true, timeoutMs = 5_000): Promise<ServerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (taken < events.length) {
        const event = events[taken++]!;
        if (match(event)) return event;
      }
      if (done) throw new Error('the stream ended before the event came');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  return { response, events, comments, retries, next, ended, close: () => abort.abort() };
}

/** Resolves true when `promise` settles within `ms`, false otherwise. */
export const within = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
