import { describe, expect, it } from 'vitest';
import { toAppError } from '../src/http/errors.js';
import { AppError } from '../src/http/problem.js';

describe('toAppError', () => {
  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['an administrator shutdown', Object.assign(new Error('terminating connection'), { code: '57P01' })],
    ['a pool that cannot hand out a connection', Object.assign(new Error('Knex: Timeout acquiring a connection'), { name: 'KnexTimeoutError' })],
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
