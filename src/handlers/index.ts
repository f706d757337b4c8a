import type { Knex } from 'knex';
import type { Tokens } from '../auth/tokens.js';
import type { Config } from '../config.js';
import type { OperationHandlers } from '../http/operations.js';
import { operationsHandlers } from './operations.js';

export interface HandlerDeps {
  config: Config;
  knex: Knex;
  tokens: Tokens;
}

export const createHandlers = (deps: HandlerDeps): OperationHandlers => ({
  ...operationsHandlers(deps),
});
