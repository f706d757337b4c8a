import { Model } from 'objection';

export class RefreshToken extends Model {
  static override tableName = 'refresh_tokens';

  declare id: string;
  declare session_id: string;
  declare token_hash: string;
  declare created_at: Date;
  declare expires_at: Date;
  declare spent_at: Date | null;
  declare replaced_by: string | null;
}
