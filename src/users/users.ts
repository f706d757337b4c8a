import type { Knex } from 'knex';
import type { Sessions } from '../auth/sessions.js';
import { User } from '../db/models/User.js';
import type { Body, Caller } from '../http/operations.js';
import { problems } from '../http/problem.js';
import type { Cursors } from '../paging/cursor.js';
import { pageOf, type Order, type PageRequest } from '../paging/page.js';

const notFound = () => problems.notFound('The user does not exist.');
const OLDEST_FIRST: Order = { column: 'users.created_at', id: 'users.id', direction: 'asc' };

/** User administration; who may call it is the spec's business (`x-roles: [admin]`). */
export function createUsers(deps: { knex: Knex; sessions: Pick<Sessions, 'endAll'>; cursors: Cursors }) {
  const { knex, sessions, cursors } = deps;
  return {
    list: (caller: Caller, page: PageRequest) => pageOf(User.query(knex), OLDEST_FIRST, page, cursors.of(['users', caller.userId])),

    async get(id: string) {
      const user = await User.query(knex).findById(id);
      if (!user) throw notFound();
      return user;
    },

    async update(caller: Caller, id: string, { role, is_active }: Body<'updateUser'>) {
      // UUIDs compare case-insensitively in the database, so must here too, or an upper-case id would slip past.
      const self = id.toLowerCase() === caller.userId.toLowerCase();
      if (self && (role === 'user' || is_active === false)) {
        throw problems.conflict('An admin cannot demote or deactivate themself; ask another admin.');
      }
      return knex.transaction(async (trx) => {
        // Locks the active admins, in one order, before counting them after the change: concurrent
        // changes queue here, and each counts what the one before it committed.
        await User.query(trx).where({ role: 'admin', is_active: true }).orderBy('id').forUpdate().select('id');
        const [user] = await User.query(trx)
          .where('users.id', id)
          .patch({ role, is_active, updated_at: trx.fn.now() })
          .returning('*');
        if (!user) throw notFound();
        const admins = await User.query(trx).where({ role: 'admin', is_active: true }).resultSize();
        if (admins === 0) throw problems.conflict('This would leave no active admin; make another user an admin first.');
        // Same transaction: a deactivated user never keeps a live session, even if this fails half-way.
        if (is_active === false) await sessions.endAll(user.id, trx);
        return user;
      });
    },
  };
}
