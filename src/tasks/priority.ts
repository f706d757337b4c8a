import type { components } from '../../generated/openapi.js';

export type TaskPriority = components['schemas']['TaskPriority'];

/**
 * Each priority's rank, which is what a task stores, so that the database sorts and indexes
 * priorities in the contract's order (none < low < medium < high < urgent), not the alphabet's.
 * A Record, so that a value the spec gains fails to compile until it has a rank.
 */
const RANKS: Record<TaskPriority, number> = { none: 0, low: 1, medium: 2, high: 3, urgent: 4 };
const BY_RANK = (Object.keys(RANKS) as TaskPriority[]).sort((a, b) => RANKS[a] - RANKS[b]);

export const rankOf = (priority: TaskPriority): number => RANKS[priority];
export const priorityOf = (rank: number): TaskPriority => BY_RANK[rank]!;
