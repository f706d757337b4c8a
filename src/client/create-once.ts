import type { Client } from 'openapi-fetch';
import type { components, paths } from '../../generated/openapi.js';
import { ok, type Problem } from './index.js';

type Task = components['schemas']['Task'];
type TaskCreate = components['schemas']['TaskCreate'];

export interface CreateOnceOptions {
  /** The Idempotency-Key; by default a new random one. Pass the same key to finish a create begun earlier (say, before a restart). */
  key?: string;
  /** Attempts in all, the first included (default 4). */
  attempts?: number;
  /** Wait before the first retry, doubled before each next one (default 250 ms). */
  retryDelayMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether sending the same request again may still succeed: the server failed, or the first request with the key is still running. */
const worthRetrying = ({ response, error }: { response: Response; error?: unknown }) =>
  response.status >= 500 || (response.status === 409 && (error as Problem | undefined)?.type === '/problems/idempotency-key-in-use');

/**
 * Creates a task at most once however often it has to be sent: every attempt carries the same
 * Idempotency-Key, so when an answer is lost (a network error, a 5xx or 503 from the server or a
 * proxy) the retry gets the first answer again instead of making a second task. A 409 (the first
 * attempt is still running) is retried too. Other errors throw an ApiProblem at once; after the
 * last attempt, whatever it got is thrown.
 *
 *     const task = await createTaskOnce(api, { title: 'Write the quarterly report' });
 */
export async function createTaskOnce(client: Client<paths>, body: TaskCreate, options: CreateOnceOptions = {}): Promise<Task> {
  const key = options.key ?? globalThis.crypto.randomUUID();
  const attempts = options.attempts ?? 4;
  let delay = options.retryDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    const last = attempt >= attempts;
    const result = await client.POST('/tasks', { params: { header: { 'Idempotency-Key': key } }, body }).catch((error: unknown) => {
      // fetch rejects when no answer arrived: the task may exist or not, and a retry finds out.
      if (last) throw error;
      return undefined;
    });
    if (result && (last || !worthRetrying(result))) return ok(Promise.resolve(result));
    await sleep(delay);
    delay *= 2;
  }
}
