import type { Knex } from 'knex';
import { hashPassword } from '../auth/passwords.js';

export type AdminBootstrap = 'created' | 'exists' | 'exists-without-admin-role';

/**
 * Creates the admin if no user has that email; an existing account is never changed, but the
 * caller is told when it is not an admin (someone may have registered that email first).
 */
export async function ensureAdmin(knex: Knex, admin: { email: string; password: string }, rounds: number): Promise<AdminBootstrap> {
  const email = admin.email.toLowerCase();
  const found = async (): Promise<AdminBootstrap | undefined> => {
    const user = await knex('users').where({ email }).first<{ role: string } | undefined>('role');
    if (user) return user.role === 'admin' ? 'exists' : 'exists-without-admin-role';
  };
  // Looked up before hashing: every restart would otherwise pay for a bcrypt hash it throws away.
  const before = await found();
  if (before) return before;
  const passwordHash = await hashPassword(admin.password, rounds);
  const inserted = await knex('users').insert({ email, password_hash: passwordHash, role: 'admin' }).onConflict('email').ignore().returning('id');
  // Not inserted: someone registered the email between the look-up and the insert.
  return inserted.length > 0 ? 'created' : ((await found()) ?? 'exists-without-admin-role');
}
