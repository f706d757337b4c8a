import { Model } from 'objection';
import { User } from './User.js';

export type TaskStatus = 'todo' | 'in_progress' | 'done';

export class Task extends Model {
  static override tableName = 'tasks';

  declare id: string;
  declare owner_id: string;
  declare title: string;
  declare description: string | null;
  declare status: TaskStatus;
  declare created_at: Date;
  declare updated_at: Date;

  declare owner?: User;

  static override relationMappings = () => ({
    owner: {
      relation: Model.BelongsToOneRelation,
      modelClass: User,
      join: { from: 'tasks.owner_id', to: 'users.id' },
    },
  });
}
