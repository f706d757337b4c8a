import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from '../../generated/openapi.js';
import { walk } from './walk.js';

export type TokenPair = components['schemas']['TokenPair'];
export type Problem = components['schemas']['Problem'];
export type Session = components['schemas']['Session'];
export type Task = components['schemas']['Task'];
export type Label = components['schemas']['Label'];
export type { paths, components };
export { walk, type Listing, type WalkQuery } from './walk.js';
export { createTaskOnce, type CreateOnceOptions } from './create-once.js';
export { subscribe, sync, type ChangeHandlers, type SubscribeOptions, type Subscription, type SyncOptions } from './sync.js';

/** A problem+json error answer, thrown by `ok()`. */
export class ApiProblem extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(`${problem.status} ${problem.title}: ${problem.detail}`);
    this.problem = problem;
  }
  get status() {
    return this.problem.status;
  }
}

/** Unwraps an openapi-fetch result: the data, or an ApiProblem thrown. */
export async function ok<T>(result: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await result;
  if (response.ok) return data as T;
  // Not every error answer is ours: a proxy's 502 page, say, is text.
  const problem = typeof error === 'object' && error !== null ? error : { type: 'about:blank', title: response.statusText, status: response.status, detail: '' };
  throw new ApiProblem(problem as Problem);
}

export interface TaskClientOptions {
  baseUrl: string;
  tokens?: TokenPair;
  /** Called whenever the pair changes (login, rotation, logout, a failed refresh), e.g. to persist it. */
  onTokens?: (tokens: TokenPair | undefined) => void;
  fetch?: typeof globalThis.fetch;
}

export interface TaskClient extends Client<paths> {
  readonly tokens: TokenPair | undefined;
  setTokens(tokens: TokenPair | undefined): void;
  /** Logs in and keeps the new pair. */
  login(email: string, password: string): Promise<TokenPair>;
  /** Ends this session on the server and forgets the pair. */
  logout(): Promise<void>;
  /** Where the caller is logged in: all their live sessions (every page), newest first; `current` marks this one. */
  listSessions(): Promise<Session[]>;
  /** Ends one of the caller's sessions (a device they no longer use); 404 unless it is theirs and live. */
  endSession(id: string): Promise<void>;
  /** Asks for a password reset link by mail; resolves the same whether or not the address has an account. */
  requestPasswordReset(email: string): Promise<void>;
  /** Sets a new password with the token of a reset link; every session of the account ends. */
  confirmPasswordReset(token: string, newPassword: string): Promise<void>;
  /** Verifies the e-mail address with the token of a verification link (no login needed). */
  verifyEmail(token: string): Promise<void>;
  /** Mails the logged-in user a new verification link; 429 within a minute of the last, 409 once verified. */
  resendVerificationEmail(): Promise<void>;
}

// Requests that carry no access token, or whose 401 says nothing about it.
const NO_REFRESH = new Set([
  '/auth/login',
  '/auth/register',
  '/auth/refresh',
  '/auth/logout',
  '/auth/password-reset',
  '/auth/password-reset/confirm',
  '/auth/verify-email',
]);

/**
 * A typed client for the API: sends the bearer token, and on a 401 for an expired or revoked
 * access token refreshes once (one refresh at a time, whatever the number of calls waiting) and
 * retries the request with the new token.
 */
export function createTaskClient(options: TaskClientOptions): TaskClient {
  const baseUrl = options.baseUrl.replace(/\/$/, '');
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  let tokens = options.tokens;
  let refreshing: Promise<boolean> | undefined;
  const pending = new WeakMap<Request, Request>();

  const setTokens = (next: TokenPair | undefined) => {
    tokens = next;
    options.onTokens?.(next);
  };

  const refresh = (): Promise<boolean> =>
    (refreshing ??= (async () => {
      try {
        const response = await fetchImpl(`${baseUrl}/auth/refresh`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ refresh_token: tokens?.refresh_token }),
        });
        if (response.ok) setTokens((await response.json()) as TokenPair);
        // Only a 401 means the pair is dead; after a 429 or 503 the refresh token was never spent.
        else if (response.status === 401) setTokens(undefined);
        return response.ok;
      } finally {
        refreshing = undefined;
      }
    })());

  const client = createClient<paths>({ baseUrl, fetch: fetchImpl });
  client.use({
    onRequest({ request }) {
      if (tokens && !request.headers.has('Authorization')) {
        request.headers.set('Authorization', `Bearer ${tokens.access_token}`);
      }
      pending.set(request, request.clone());
      return request;
    },
    // schemaPath, not the URL: a baseUrl with a path (a dev-server proxy's /api) must not matter.
    async onResponse({ request, response, schemaPath }) {
      const retry = pending.get(request);
      pending.delete(request);
      if (response.status !== 401 || !retry || !tokens || NO_REFRESH.has(schemaPath)) return response;
      const problem = (await response.clone().json().catch(() => undefined)) as Problem | undefined;
      if (problem?.type !== '/problems/unauthorized') return response; // e.g. a wrong current password
      const sentToken = request.headers.get('Authorization')?.replace(/^Bearer /, '');
      // Another call may have rotated the pair while this one was in flight.
      if (sentToken === tokens.access_token && !(await refresh())) return response;
      if (!tokens) return response;
      retry.headers.set('Authorization', `Bearer ${tokens.access_token}`);
      return fetchImpl(retry);
    },
  });

  // A getter, so that callers always see the current pair (Object.assign would copy a snapshot).
  Object.defineProperty(client, 'tokens', { get: () => tokens, enumerable: true });
  return Object.assign(client as Client<paths> & Pick<TaskClient, 'tokens'>, {
    setTokens,
    async login(email: string, password: string) {
      const pair = await ok(client.POST('/auth/login', { body: { email, password } }));
      setTokens(pair);
      return pair;
    },
    async logout() {
      if (tokens) await ok(client.POST('/auth/logout', { body: { refresh_token: tokens.refresh_token } }));
      setTokens(undefined);
    },
    async listSessions() {
      const sessions: Session[] = [];
      for await (const session of walk(client, '/auth/sessions')) sessions.push(session);
      return sessions;
    },
    async endSession(id: string) {
      await ok(client.DELETE('/auth/sessions/{id}', { params: { path: { id } } }));
    },
    async requestPasswordReset(email: string) {
      await ok(client.POST('/auth/password-reset', { body: { email } }));
    },
    async confirmPasswordReset(token: string, newPassword: string) {
      await ok(client.POST('/auth/password-reset/confirm', { body: { token, new_password: newPassword } }));
    },
    async verifyEmail(token: string) {
      await ok(client.POST('/auth/verify-email', { body: { token } }));
    },
    async resendVerificationEmail() {
      await ok(client.POST('/auth/verify-email/resend'));
    },
  });
}
