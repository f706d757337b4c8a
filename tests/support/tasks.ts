import { ok, type components } from '../../src/client/index.js';
import { labelKey } from '../../src/tasks/labels.js';
import type { TestServer } from './server.js';
import type { SignedUp } from './users.js';

type TaskCreate = components['schemas']['TaskCreate'];
type Task = components['schemas']['Task'];
type Priority = components['schemas']['TaskPriority'];

/** The order the contract gives priorities; the table stores the position. */
export const PRIORITIES: Priority[] = ['none', 'low', 'medium', 'high', 'urgent'];

/** Creates a task through the API as `user`. */
export const createTask = (user: SignedUp, body: Partial<TaskCreate> = {}) =>
  ok(user.client.POST('/tasks', { body: { title: 'Write the quarterly report', ...body } }));

/** Headers for plain-fetch requests as `user`, for what the typed client cannot send (wrong types, extra fields). */
export const asUser = (user: SignedUp, headers: Record<string, string> = {}) => ({
  Authorization: `Bearer ${user.client.tokens!.access_token}`,
  ...headers,
});

export type TaskRow = Partial<Record<'title' | 'status' | 'created_at' | 'updated_at', string>> & {
  due_at?: string | null;
  priority?: Priority;
  labels?: string[];
};

const iso = (value: Date | null) => value?.toISOString() ?? null;

/** Rows straight into the table, for values the API would never produce (ties, a fixed past); returned as the API shows them. */
export async function insertTasks(server: TestServer, owner: SignedUp, rows: TaskRow[]): Promise<Task[]> {
  const inserted = await server
    .knex('tasks')
    .insert(
      rows.map(({ priority, labels, ...row }) => ({
        owner_id: owner.id,
        title: 'Same title',
        ...row,
        ...(priority === undefined ? {} : { priority: PRIORITIES.indexOf(priority) }),
        ...(labels === undefined ? {} : { labels, label_keys: labels.map(labelKey) }),
      })),
    )
    .returning('*');
  // As the API shows them: without the stored label keys and the change feed's stamp.
  return inserted.map(({ label_keys: _keys, change_xid: _stamp, ...t }) => ({
    ...t,
    due_at: iso(t.due_at),
    priority: PRIORITIES[t.priority]!,
    completed_at: iso(t.completed_at),
    created_at: t.created_at.toISOString(),
    updated_at: t.updated_at.toISOString(),
  }));
}
