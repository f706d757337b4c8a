// knex ships no typings for its dialect classes; this one is extended in knex.ts.
declare module 'knex/lib/dialects/postgres/index.js' {
  import type { Knex } from 'knex';
  const ClientPg: typeof Knex.Client;
  export default ClientPg;
}
