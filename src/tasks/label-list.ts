import type { Knex } from 'knex';
import type { components } from '../../generated/openapi.js';
import type { Caller } from '../http/operations.js';

type Label = components['schemas']['Label'];

// Each label of the caller's tasks once, by its folded key (src/tasks/labels.ts), spelt as on the
// oldest task carrying it. Ordered by the key in code-point order ("C"), which is the same on
// every server whatever its default collation. Admins too see their own tasks' labels only.
const LABELS = `
  select (array_agg(label.name order by tasks.created_at, tasks.id))[1] as name, count(*)::int as count
  from tasks cross join lateral unnest(tasks.labels, tasks.label_keys) as label(name, key)
  where tasks.owner_id = ? and tasks.label_keys <> '{}'
  group by label.key
  order by label.key collate "C"`;

/** GET /labels: the labels on the caller's tasks, with how many tasks carry each. */
export function createLabelList(knex: Knex) {
  return {
    async list(caller: Caller): Promise<Label[]> {
      const { rows } = await knex.raw<{ rows: Label[] }>(LABELS, [caller.userId]);
      return rows;
    },
  };
}
