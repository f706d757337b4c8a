import { Model } from 'objection';

export class IdempotencyKey extends Model {
  static override tableName = 'idempotency_keys';
  static override idColumn = ['user_id', 'key'];

  declare user_id: string;
  declare key: string;
  declare request_hash: string;
  declare response_status: number;
  declare response_headers: Record<string, string>;
  declare response_body: string;
  /** The task the response holds; deleting it deletes the row. */
  declare task_id: string | null;
  declare created_at: Date;
  declare expires_at: Date;
}
