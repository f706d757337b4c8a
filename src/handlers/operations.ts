import type { Knex } from 'knex';
import { isDatabaseReady } from '../db/knex.js';
import { redocPage, swaggerUiPage } from '../docs/assets.js';
import type { OperationHandlers } from '../http/operations.js';
import { problems } from '../http/problem.js';
import { json } from '../http/reply.js';
import { specJsonText, specYamlText } from '../spec.js';

const html = (page: string) => async () => ({ status: 200, body: page, contentType: 'text/html' });

export function operationsHandlers(deps: { knex: Knex; isStopping?: () => boolean }): OperationHandlers {
  return {
    getHealth: async () => json(200, { status: 'ok' }),
    getReadiness: async () => {
      // While shutting down, so that load balancers send new requests elsewhere; it still answers them.
      if (deps.isStopping?.()) throw problems.unavailable('This instance is shutting down; other instances take its requests.');
      if (!(await isDatabaseReady(deps.knex))) throw problems.unavailable();
      return json(200, { status: 'ok', database: 'ok' });
    },
    getOpenApiJson: async () => ({ status: 200, body: specJsonText }),
    getOpenApiYaml: async () => ({ status: 200, body: specYamlText, contentType: 'application/yaml' }),
    getSwaggerUi: html(swaggerUiPage),
    getRedoc: html(redocPage),
  };
}
