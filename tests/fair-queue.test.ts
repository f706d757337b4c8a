// The queue every bcrypt of a request waits in (src/auth/fair-queue.ts), with jobs that finish when
// told, so the order of turns is exact. The HTTP-level floods are in tests/floods.test.ts.
import { describe, expect, it } from 'vitest';
import { createFairQueue } from '../src/auth/fair-queue.js';
import { AppError } from '../src/http/problem.js';

function jobs() {
  const started: string[] = [];
  const finishers = new Map<string, () => void>();
  const job = (name: string) => () =>
    new Promise<string>((resolve) => {
      started.push(name);
      finishers.set(name, () => resolve(name));
    });
  const finish = async (name: string) => {
    finishers.get(name)!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { started, job, finish };
}

describe('the fair queue', () => {
  it('takes turns between keys: a key that comes later waits for one turn of each key ahead, not for their whole lines', async () => {
    const queue = createFairQueue({ running: 1, waitingPerKey: 10, waiting: 10 });
    const { started, job, finish } = jobs();
    const done = ['a1', 'a2', 'a3', 'a4'].map((name) => queue.run('a', job(name)));
    done.push(queue.run('b', job('b1')));
    for (const name of ['a1', 'a2', 'b1', 'a3', 'a4']) await finish(name);
    await Promise.all(done);
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3', 'a4']);
  });

  it('runs up to the given number of jobs at once', async () => {
    const queue = createFairQueue({ running: 2, waitingPerKey: 10, waiting: 10 });
    const { started, job } = jobs();
    for (const name of ['a1', 'a2', 'a3']) void queue.run('a', job(name));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a1', 'a2']);
  });

  it('refuses a job at once with 503 and Retry-After when its key’s line is full, and takes other keys', async () => {
    const queue = createFairQueue({ running: 1, waitingPerKey: 1, waiting: 10 });
    const { job } = jobs();
    void queue.run('a', job('a1'));
    void queue.run('a', job('a2'));
    const refused = await queue.run('a', job('a3')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ status: 503, extra: { headers: { 'Retry-After': expect.stringMatching(/^[1-9]\d*$/) } } });
    void queue.run('b', job('b1'));
  });

  it('refuses a job when the whole queue is full', async () => {
    const queue = createFairQueue({ running: 1, waitingPerKey: 5, waiting: 2 });
    const { job } = jobs();
    void queue.run('a', job('a1'));
    void queue.run('b', job('b1'));
    void queue.run('c', job('c1'));
    await expect(queue.run('d', job('d1'))).rejects.toMatchObject({ status: 503 });
  });

  it('passes on a job’s failure and goes on with the next', async () => {
    const queue = createFairQueue({ running: 1, waitingPerKey: 5, waiting: 5 });
    const failing = queue.run('a', () => Promise.reject(new Error('bcrypt failed')));
    const next = queue.run('b', async () => 'ran');
    await expect(failing).rejects.toThrow('bcrypt failed');
    expect(await next).toBe('ran');
  });

  it('frees the place of a waiting job whose client has gone, so that key’s next job waits instead of being refused', async () => {
    const queue = createFairQueue({ running: 1, waitingPerKey: 1, waiting: 5 });
    const { started, job, finish } = jobs();
    let gone = false;
    void queue.run('a', job('a1'));
    const abandoned = expect(queue.run('a', job('a2'), () => gone)).rejects.toMatchObject({ status: 503 });
    gone = true;
    const next = queue.run('a', job('a3'));
    await abandoned;
    await finish('a1');
    await finish('a3');
    expect(await next).toBe('a3');
    expect(started).toEqual(['a1', 'a3']);
  });

  it('skips a waiting job whose client went away before its turn came', async () => {
    const queue = createFairQueue({ running: 1, waitingPerKey: 5, waiting: 5 });
    const { started, job, finish } = jobs();
    let gone = false;
    void queue.run('a', job('a1'));
    const abandoned = expect(queue.run('b', job('b1'), () => gone)).rejects.toMatchObject({ status: 503 });
    const next = queue.run('c', job('c1'));
    gone = true;
    await finish('a1');
    await abandoned;
    await finish('c1');
    expect(await next).toBe('c1');
    expect(started).toEqual(['a1', 'c1']);
  });
});
