import { describe, expect, it } from 'vitest';
import { DatabaseUnreachable } from '../src/db/connection-loss.js';
import { toAppError } from '../src/http/errors.js';
import { AppError } from '../src/http/problem.js';

describe('toAppError', () => {
  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['an administrator shutdown', Object.assign(new Error('terminating connection'), { code: '57P01' })],
    ['a pool that cannot hand out a connection', Object.assign(new Error('Knex: Timeout acquiring a connection'), { name: 'KnexTimeoutError' })],
    ['a COMMIT or ROLLBACK on a client whose connection died', new Error('Client has encountered a connection error and is not queryable')],
    ['a connection that ended under a query', new Error('Connection terminated unexpectedly')],
    ['a reset socket', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ["PgBouncer losing its server connection", Object.assign(new Error('server conn crashed?'), { code: '08P01' })],
    ['a FATAL error of any code', Object.assign(new Error('terminating connection due to idle-in-transaction timeout'), { code: '25P03', severity: 'FATAL' })],
    ['a failure to connect, whatever its code', new DatabaseUnreachable(Object.assign(new Error('database "tm" is not currently accepting connections'), { code: '55000' }))],
    ['a database refusing connections, to a pool that does not mark failures to connect', Object.assign(new Error('database "tm" is not currently accepting connections'), { code: '55000' })],
    ['a connection failure wrapped by Objection', Object.assign(new Error('wrapped'), { nativeError: Object.assign(new Error('terminating connection'), { code: '57P01' }) })],
  ])('maps %s to 503', (_name, error) => {
    expect(toAppError(error).error.status).toBe(503);
  });

  it('keeps an AppError as it is', () => {
    const error = new AppError(409, 'conflict', 'Taken.');
    expect(toAppError(error)).toEqual({ error, unexpected: false });
  });

  it('turns anything else into a 500 that says nothing about the cause', () => {
    const { error, unexpected } = toAppError(new Error('relation "secret_table" does not exist'));
    expect(unexpected).toBe(true);
    expect(error.status).toBe(500);
    expect(error.message).not.toMatch(/secret_table/);
  });
});
