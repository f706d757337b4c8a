import type { Knex } from 'knex';
import type { components } from '../../generated/openapi.js';
import type { Caller } from '../http/operations.js';
import { AppError, problems } from '../http/problem.js';
import { presentTask } from '../tasks/present.js';
import { readFeed, type Change } from './feed.js';
import { createPositionTokens, positionTakenAt, type Position } from './position.js';

type TaskChange = components['schemas']['TaskChange'];
type TaskChangePage = components['schemas']['TaskChangePage'];

const FROM_NOTHING: Position = { kind: 'since', snapshot: null };

const spell = (seconds: number) => (seconds % 86_400 === 0 ? `${seconds / 86_400} days` : `${seconds} seconds`);

/** GET /tasks/changes, and what the event streams share with it: positions as tokens, changes as the spec has them. */
export function createChangeFeed(deps: { knex: Knex; secretKey: string; retentionSeconds: number }) {
  const tokens = createPositionTokens(deps.secretKey);
  const retentionMs = deps.retentionSeconds * 1000;
  const token = (caller: Caller, position: Position) => tokens.encode(caller.userId, position);
  const present = (change: Change): TaskChange =>
    change.type === 'upsert'
      ? { type: 'upsert', task: presentTask(change.task) }
      : { type: 'delete', id: change.id, deleted_at: change.deleted_at.toISOString() };

  return {
    /**
     * The position a `since` (or Last-Event-ID, named by `pointer`) stands for, for this caller;
     * none is the start of the feed. 422 when it is not one of the caller's, 410 when it is older
     * than the deletions kept.
     */
    positionOf(caller: Caller, token: string | undefined, pointer: string): Position {
      if (token === undefined) return FROM_NOTHING;
      const position = tokens.decode(caller.userId, token);
      if (!position) {
        throw problems.validation([{ pointer, message: 'is not a position of your feed; send next_since back unchanged, or start again without since' }]);
      }
      const takenAt = positionTakenAt(position);
      if (takenAt !== undefined && takenAt < Date.now() - retentionMs) {
        throw new AppError(410, 'since-expired', `This position is older than the ${spell(deps.retentionSeconds)} deletions are kept; sync again without since.`);
      }
      return position;
    },

    token,
    present,

    async page(caller: Caller, position: Position, limit: number): Promise<TaskChangePage> {
      const page = await readFeed(deps.knex, caller.userId, position, limit);
      return {
        changes: page.entries.map((entry) => present(entry.change)),
        next_since: token(caller, page.next),
        has_more: page.hasMore,
      };
    },
  };
}

export type ChangeFeed = ReturnType<typeof createChangeFeed>;
