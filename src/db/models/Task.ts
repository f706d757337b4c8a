import { Model } from 'objection';
import type { components } from '../../../generated/openapi.js';

// The spec defines the values; the database's check constraint mirrors them.
export type TaskStatus = components['schemas']['TaskStatus'];

export class Task extends Model {
  static override tableName = 'tasks';
  // Arrays are PostgreSQL arrays (text[]), not JSON: without this, Objection would stringify them.
  static override jsonAttributes = [];

  declare id: string;
  declare owner_id: string;
  declare title: string;
  declare description: string | null;
  declare status: TaskStatus;
  declare due_at: Date | null;
  /** A rank, 0 (none) to 4 (urgent): see src/tasks/priority.ts. */
  declare priority: number;
  declare labels: string[];
  /** The labels folded for comparison ignoring case (src/tasks/labels.ts), in the same order. */
  declare label_keys: string[];
  /** Set by the database when status becomes done (the tasks_set_completed_at trigger). */
  declare completed_at: Date | null;
  declare created_at: Date;
  declare updated_at: Date;
}
