import { Model } from 'objection';
import type { components } from '../../../generated/openapi.js';

// The spec defines the values; the database's check constraint mirrors them.
export type TaskStatus = components['schemas']['TaskStatus'];

export class Task extends Model {
  static override tableName = 'tasks';

  declare id: string;
  declare owner_id: string;
  declare title: string;
  declare description: string | null;
  declare status: TaskStatus;
  declare created_at: Date;
  declare updated_at: Date;
}
