import type { Knex } from 'knex';
import { hashPassword } from '../auth/passwords.js';

/** Creates the admin if no user has that email; an existing account is never changed. */
export async function ensureAdmin(knex: Knex, admin: { email: string; password: string }, rounds: number): Promise<boolean> {
  const passwordHash = await hashPassword(admin.password, rounds);
  const inserted = await knex('users')
    .insert({ email: admin.email.toLowerCase(), password_hash: passwordHash, role: 'admin' })
    .onConflict('email')
    .ignore()
    .returning('id');
  return inserted.length > 0;
}
