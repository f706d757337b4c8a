import type { Knex } from 'knex';

// What GET /auth/sessions shows of a session: the User-Agent of its login and when it was last
// used (login or refresh; never written per request).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.text('user_agent').nullable();
    t.timestamp('last_used_at', { useTz: true, precision: 3 }).nullable();
    t.check('char_length(user_agent) <= 512', undefined, 'sessions_user_agent_length');
  });
  // Each login and refresh stored a refresh token, so the newest one is when the session was last used.
  await knex.raw(`
    update sessions set last_used_at = coalesce(
      (select max(refresh_tokens.created_at) from refresh_tokens where refresh_tokens.session_id = sessions.id),
      sessions.created_at)`);
  await knex.schema.alterTable('sessions', (t) => {
    t.timestamp('last_used_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now()).alter();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.dropChecks('sessions_user_agent_length');
    t.dropColumns('user_agent', 'last_used_at');
  });
}
