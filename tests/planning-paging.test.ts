// Property-based: cursor walks over random task sets, under every sort and any mix of filters,
// give exactly the list a plain filter-and-sort in this file makes. The sets are small and full
// of ties (due dates, priorities, timestamps and titles from short lists), of tasks without a due
// date and of labels in mixed case, so that all of these straddle page boundaries of random sizes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ok, type components, type paths } from '../src/client/index.js';
import { insertTasks, PRIORITIES, type TaskRow } from './support/tasks.js';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

type Task = components['schemas']['Task'];
type ListQuery = NonNullable<paths['/tasks']['get']['parameters']['query']>;
type Sort = NonNullable<ListQuery['sort']>;

const server = useServer();

const SORTS: Sort[] = ['created_at', '-created_at', 'updated_at', '-updated_at', 'title', '-title', 'due_at', '-due_at', 'priority', '-priority'];
const MOMENTS = ['2026-12-01T09:00:00.000Z', '2026-12-01T10:00:00.000Z', '2026-12-01T10:00:00.001Z', '2026-12-02T09:00:00.000Z'];
// Bounds between, on and around the moments.
const BOUNDS = ['2026-12-01T00:00:00.000Z', ...MOMENTS, '2026-12-01T11:00:00+01:00', '2027-01-01T00:00:00.000Z'];
const TITLES = ['alpha', 'beta', 'beta', 'gamma'];
const SPELLINGS: Record<string, string[]> = { bug: ['bug', 'Bug', 'BUG'], docs: ['docs', 'Docs'], q1: ['q1', 'Q1'], ärger: ['ärger', 'Ärger', 'ÄRGER'] };
const STATUSES = ['todo', 'in_progress', 'done'] as const;

const spelt = (key: string) => fc.constantFrom(...SPELLINGS[key]!);
const row: fc.Arbitrary<TaskRow> = fc.record({
  title: fc.constantFrom(...TITLES),
  status: fc.constantFrom(...STATUSES),
  created_at: fc.constantFrom(...MOMENTS),
  updated_at: fc.constantFrom(...MOMENTS),
  due_at: fc.option(fc.constantFrom(...MOMENTS), { nil: null, freq: 3 }),
  priority: fc.constantFrom(...PRIORITIES),
  // Each label at most once ignoring case, as the API keeps them.
  labels: fc.shuffledSubarray(Object.keys(SPELLINGS)).chain((keys) => fc.tuple(...keys.map(spelt))),
});
const query: fc.Arbitrary<ListQuery> = fc.record(
  {
    sort: fc.constantFrom(...SORTS),
    status: fc.constantFrom(...STATUSES),
    priority: fc.constantFrom(...PRIORITIES),
    label: fc.constantFrom(...Object.keys(SPELLINGS)).chain(spelt),
    due_before: fc.constantFrom(...BOUNDS),
    due_after: fc.constantFrom(...BOUNDS),
  },
  { requiredKeys: ['sort'] },
);

// The plain list: filter, then sort, written without the server's code.
const codeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
function expected(tasks: Task[], { sort, status, priority, label, due_before, due_after }: ListQuery): string[] {
  const due = (task: Task) => (task.due_at === null ? undefined : Date.parse(task.due_at));
  const kept = tasks.filter(
    (task) =>
      (!status || task.status === status) &&
      (!priority || task.priority === priority) &&
      (!label || task.labels.some((l) => l.toLowerCase() === label.toLowerCase())) &&
      (!due_before || (due(task) !== undefined && due(task)! < Date.parse(due_before))) &&
      (!due_after || (due(task) !== undefined && due(task)! >= Date.parse(due_after))),
  );
  const column = sort!.replace(/^-/, '') as 'created_at' | 'updated_at' | 'title' | 'due_at' | 'priority';
  const descending = sort!.startsWith('-');
  const direction = descending ? -1 : 1;
  const compare = (a: Task, b: Task): number => {
    if (column === 'due_at' && (a.due_at === null) !== (b.due_at === null)) return a.due_at === null ? 1 : -1; // last, either way
    const byValue = column === 'priority' ? PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority) : codeUnits(String(a[column]), String(b[column]));
    return direction * (byValue || codeUnits(a.id, b.id));
  };
  return kept.sort(compare).map((task) => task.id);
}

describe('walking tasks by cursor, property-based', () => {
  it('returns exactly the filtered, sorted list, page after page of random sizes, for every sort and filter', { timeout: 240_000 }, async () => {
    const user = await signUp(server());
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 30 }), query, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 8 }), async (rows, filters, sizes) => {
        await server().knex('tasks').where('owner_id', user.id).delete();
        const want = expected(rows.length > 0 ? await insertTasks(server(), user, rows) : [], filters);
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; ; page++) {
          const limit = sizes[page % sizes.length]!;
          const answer = await ok(user.client.GET('/tasks', { params: { query: { ...filters, limit, cursor } } }));
          expect(answer).toMatchObject({ total: want.length, offset: seen.length, limit });
          expect(answer.items.map((task) => task.id)).toEqual(want.slice(seen.length, seen.length + limit));
          seen.push(...answer.items.map((task) => task.id));
          if (answer.next_cursor === null) break;
          cursor = answer.next_cursor;
        }
        expect(seen).toEqual(want);
      }),
      { numRuns: 120, seed: 20261204 },
    );
  });
});
