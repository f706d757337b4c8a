import type { Knex } from 'knex';
import { hashPassword } from '../auth/passwords.js';

export type AdminBootstrap = 'created' | 'exists' | 'exists-without-admin-role';

/**
 * Creates the admin if no user has that email; an existing account is never changed, but the
 * caller is told when it is not an admin (someone may have registered that email first).
 */
export async function ensureAdmin(knex: Knex, admin: { email: string; password: string }, rounds: number): Promise<AdminBootstrap> {
  const email = admin.email.toLowerCase();
  const passwordHash = await hashPassword(admin.password, rounds);
  const inserted = await knex('users').insert({ email, password_hash: passwordHash, role: 'admin' }).onConflict('email').ignore().returning('id');
  if (inserted.length > 0) return 'created';
  const existing = await knex('users').where({ email }).first<{ role: string }>('role');
  return existing?.role === 'admin' ? 'exists' : 'exists-without-admin-role';
}
