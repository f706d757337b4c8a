import { ok, type components } from '../../src/client/index.js';
import type { SignedUp } from './users.js';

type TaskCreate = components['schemas']['TaskCreate'];

/** Creates a task through the API as `user`. */
export const createTask = (user: SignedUp, body: Partial<TaskCreate> = {}) =>
  ok(user.client.POST('/tasks', { body: { title: 'Write the quarterly report', ...body } }));

/** Headers for plain-fetch requests as `user`, for what the typed client cannot send (wrong types, extra fields). */
export const asUser = (user: SignedUp, headers: Record<string, string> = {}) => ({
  Authorization: `Bearer ${user.client.tokens!.access_token}`,
  ...headers,
});
