import { Model } from 'objection';
import { RefreshToken } from './RefreshToken.js';
import { User } from './User.js';

export class Session extends Model {
  static override tableName = 'sessions';

  declare id: string;
  declare user_id: string;
  declare created_at: Date;
  declare revoked_at: Date | null;
  declare user_agent: string | null;
  declare last_used_at: Date;

  declare user?: User;
  declare refreshTokens?: RefreshToken[];

  static override relationMappings = () => ({
    user: {
      relation: Model.BelongsToOneRelation,
      modelClass: User,
      join: { from: 'sessions.user_id', to: 'users.id' },
    },
    refreshTokens: {
      relation: Model.HasManyRelation,
      modelClass: RefreshToken,
      join: { from: 'sessions.id', to: 'refresh_tokens.session_id' },
    },
  });
}
