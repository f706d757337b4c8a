import { randomUUID } from 'node:crypto';
import { ok, type TaskClient } from '../../src/client/index.js';
import type { TestServer } from './server.js';

export interface SignedUp {
  client: TaskClient;
  id: string;
  email: string;
  password: string;
}

/** Registers a new user through the API and logs them in; `admin` promotes them in the database first. */
export async function signUp(server: TestServer, options: { role?: 'user' | 'admin' } = {}): Promise<SignedUp> {
  const email = `user-${randomUUID()}@example.com`;
  const password = 'correct-horse-battery';
  const client = server.client();
  const user = await ok(client.POST('/auth/register', { body: { email, password } }));
  if (options.role === 'admin') await server.knex('users').where('id', user.id).update({ role: 'admin' });
  await client.login(email, password);
  return { client, id: user.id, email, password };
}
