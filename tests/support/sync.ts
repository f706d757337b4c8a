import { ok, type components, type TaskClient } from '../../src/client/index.js';
import { Task as TaskRow } from '../../src/db/models/Task.js';
import { presentTask } from '../../src/tasks/present.js';
import type { TestServer } from './server.js';

export type Task = components['schemas']['Task'];
export type TaskChange = components['schemas']['TaskChange'];
export type ChangePage = components['schemas']['TaskChangePage'];

/** A client's copy of its tasks, kept by applying the change feed in order. */
export class Replica {
  readonly tasks = new Map<string, Task>();
  since: string | undefined;
  pages: ChangePage[] = [];

  apply(changes: TaskChange[]) {
    for (const change of changes) {
      if (change.type === 'upsert') this.tasks.set(change.task.id, change.task);
      else this.tasks.delete(change.id);
    }
  }

  /** Follows next_since until has_more is false; returns the pages read. */
  async catchUp(client: TaskClient, limit?: number): Promise<ChangePage[]> {
    const pages: ChangePage[] = [];
    for (let n = 0; n < 10_000; n++) {
      const page = await ok(client.GET('/tasks/changes', { params: { query: { since: this.since, limit } } }));
      this.apply(page.changes);
      this.since = page.next_since;
      pages.push(page);
      if (!page.has_more) break;
    }
    this.pages.push(...pages);
    return pages;
  }

  /** The tasks, ordered by id, for comparing with the database's. */
  sorted(): Task[] {
    return byId([...this.tasks.values()]);
  }
}

const byId = (tasks: Task[]) => tasks.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** The owner's tasks as the API presents them, straight from the database, ordered by id. */
export async function tasksInDatabase(server: Pick<TestServer, 'knex'>, owner: string): Promise<Task[]> {
  const rows: object[] = await server.knex('tasks').where('owner_id', owner);
  return byId(rows.map((row) => presentTask(TaskRow.fromDatabaseJson(row))));
}
