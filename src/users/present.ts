import type { components } from '../../generated/openapi.js';
import type { User } from '../db/models/User.js';

/** The public view of a user: never the password hash. */
export const presentUser = (user: User): components['schemas']['User'] => ({
  id: user.id,
  email: user.email,
  role: user.role,
  is_active: user.is_active,
  email_verified: user.email_verified,
  created_at: user.created_at.toISOString(),
});
