import { Model } from 'objection';
import type { components } from '../../../generated/openapi.js';

// The spec defines the values; the database's check constraint mirrors them.
export type Role = components['schemas']['Role'];

export class User extends Model {
  static override tableName = 'users';

  declare id: string;
  declare email: string;
  declare password_hash: string;
  declare role: Role;
  declare is_active: boolean;
  declare email_verified: boolean;
  declare created_at: Date;
  declare updated_at: Date;
}
