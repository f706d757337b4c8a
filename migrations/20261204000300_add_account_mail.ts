import type { Knex } from 'knex';

// Contract 1.2: password reset and e-mail verification, with their mails sent through an outbox.
export async function up(knex: Knex): Promise<void> {
  // Accounts made before 1.2 count as verified, new ones start unverified. A constant default on
  // `add column` is kept in the catalogue and read for every existing row (no table rewrite, a
  // moment's lock); changing the default afterwards touches no row either.
  await knex.raw('alter table users add column email_verified boolean not null default true');
  await knex.raw('alter table users alter column email_verified set default false');

  // At most one token per account and purpose: issuing a new one replaces the old (a newer link
  // makes older ones invalid), and created_at is when its mail was queued, which limits an
  // account to one mail of each kind a minute. Only the token's SHA-256 is kept.
  await knex.schema.createTable('account_tokens', (t) => {
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('purpose').notNullable();
    t.text('token_hash').notNullable().unique();
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true, precision: 3 }).notNullable();
    t.timestamp('spent_at', { useTz: true, precision: 3 });
    t.primary(['user_id', 'purpose']);
    t.check("purpose in ('password_reset', 'email_verification')", undefined, 'account_tokens_purpose_check');
  });

  // Mails queued in the transaction that made their token, sent after commit by a worker in every
  // server process (src/mail/). next_attempt_at is when a row may next be claimed: at once, after a
  // retry's backoff, or when the lease of a worker that claimed it runs out (it crashed, say).
  // `attempts` counts claims and fences outcomes: a worker records one only while the row is still
  // at the attempt it claimed. The link is sealed (encrypted with a key derived from SECRET_KEY),
  // since it holds a live token, and is cleared once the mail is sent or given up.
  await knex.schema.createTable('mail_outbox', (t) => {
    t.bigIncrements('id').primary();
    // Sent as the mail's Message-ID, the same on every attempt: a resend after a crash can be
    // recognised as the same message.
    t.uuid('message_id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('kind').notNullable();
    t.text('recipient').notNullable();
    t.text('sealed_link');
    t.timestamp('link_expires_at', { useTz: true, precision: 3 }).notNullable();
    t.text('state').notNullable().defaultTo('queued');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true, precision: 3 });
    t.text('last_error');
    t.check("kind in ('password_reset', 'email_verification')", undefined, 'mail_outbox_kind_check');
    t.check("state in ('queued', 'sent', 'failed')", undefined, 'mail_outbox_state_check');
  });
  // What the workers poll for: small, since sent and failed rows leave it.
  await knex.raw("create index mail_outbox_due_index on mail_outbox (next_attempt_at, id) where state = 'queued'");
  // A newer link drops the account's queued mail of that kind; also the foreign key's index.
  await knex.raw('create index mail_outbox_user_id_kind_index on mail_outbox (user_id, kind)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('mail_outbox');
  await knex.schema.dropTable('account_tokens');
  await knex.schema.alterTable('users', (t) => t.dropColumn('email_verified'));
}
