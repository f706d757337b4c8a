import { Model } from 'objection';
import { Session } from './Session.js';
import { Task } from './Task.js';

export type Role = 'user' | 'admin';

export class User extends Model {
  static override tableName = 'users';

  declare id: string;
  declare email: string;
  declare password_hash: string;
  declare role: Role;
  declare is_active: boolean;
  declare created_at: Date;
  declare updated_at: Date;

  declare sessions?: Session[];
  declare tasks?: Task[];

  static override relationMappings = () => ({
    sessions: {
      relation: Model.HasManyRelation,
      modelClass: Session,
      join: { from: 'users.id', to: 'sessions.user_id' },
    },
    tasks: {
      relation: Model.HasManyRelation,
      modelClass: Task,
      join: { from: 'users.id', to: 'tasks.owner_id' },
    },
  });
}
