import { ok, type components } from '../../src/client/index.js';
import type { TestServer } from './server.js';
import type { SignedUp } from './users.js';

type TaskCreate = components['schemas']['TaskCreate'];
type Task = components['schemas']['Task'];

/** Creates a task through the API as `user`. */
export const createTask = (user: SignedUp, body: Partial<TaskCreate> = {}) =>
  ok(user.client.POST('/tasks', { body: { title: 'Write the quarterly report', ...body } }));

/** Headers for plain-fetch requests as `user`, for what the typed client cannot send (wrong types, extra fields). */
export const asUser = (user: SignedUp, headers: Record<string, string> = {}) => ({
  Authorization: `Bearer ${user.client.tokens!.access_token}`,
  ...headers,
});

/** Rows straight into the table, for timestamps the API would never produce (ties, a fixed past). */
export async function insertTasks(
  server: TestServer,
  owner: SignedUp,
  rows: Partial<Record<'title' | 'status' | 'created_at' | 'updated_at', string>>[],
): Promise<Task[]> {
  const inserted = await server.knex('tasks').insert(rows.map((row) => ({ owner_id: owner.id, title: 'Same title', ...row }))).returning('*');
  // As the API shows them: without the change feed's stamp.
  return inserted.map(({ change_xid: _, ...t }) => ({ ...t, created_at: t.created_at.toISOString(), updated_at: t.updated_at.toISOString() }));
}
