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
  // The ADMIN_EMAIL account counts as verified (contract 1.2), also one that became an admin
  // another way; an account of that address without the role may be anyone's, and stays as it is.
  if (before === 'exists') await knex('users').where({ email, role: 'admin', email_verified: false }).update({ email_verified: true });
  if (before) return before;
  const passwordHash = await hashPassword(admin.password, rounds);
  // The operator chose this address, so it counts as verified (contract 1.2).
  const inserted = await knex('users')
    .insert({ email, password_hash: passwordHash, role: 'admin', email_verified: true })
    .onConflict('email')
    .ignore()
    .returning('id');
  // Not inserted: someone registered the email between the look-up and the insert.
  return inserted.length > 0 ? 'created' : ((await found()) ?? 'exists-without-admin-role');
}
