// The slots behind USER_CONCURRENCY_LIMIT (src/limits/limiter.ts), on the store the app uses: a
// client that never has more requests in flight than its slots is never refused, across the
// end of a window too. The app's window is a minute; here it is two seconds, so a run crosses one.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLimiterStore } from '../src/limits/limiter.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const SLOTS = 4;
const WINDOW_SECONDS = 2;

describe('request slots', () => {
  let db: TestDatabase;
  let store: ReturnType<typeof createLimiterStore>;

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.migrate();
    store = createLimiterStore(db.knex);
  });

  afterAll(async () => {
    await store?.close();
    await db?.destroy();
  });

  it('never refuse a client that keeps every slot busy, one request after another, through the end of a window', async () => {
    const slots = store.slots({ name: 'test-slots', points: SLOTS, windowSeconds: WINDOW_SECONDS, retryAfterSeconds: 1, detail: 'busy' });
    const until = Date.now() + WINDOW_SECONDS * 1000 * 1.5;
    let served = 0;
    const refusals: unknown[] = [];
    const client = async () => {
      while (Date.now() < until) {
        try {
          const release = await slots.take('user');
          await sleep(2);
          await release();
          served++;
        } catch (error) {
          refusals.push(error);
          await sleep(10);
        }
      }
    };
    await Promise.all(Array.from({ length: SLOTS }, client));
    expect(refusals).toEqual([]);
    expect(served).toBeGreaterThan(SLOTS * 10);
  });

  it('refuse a request beyond the slots while they are all taken', async () => {
    const slots = store.slots({ name: 'test-slots-full', points: SLOTS, windowSeconds: 60, retryAfterSeconds: 1, detail: 'busy' });
    const releases = await Promise.all(Array.from({ length: SLOTS }, () => slots.take('user')));
    await expect(slots.take('user')).rejects.toMatchObject({ status: 429 });
    await Promise.all(releases.map((release) => release()));
    const again = await slots.take('user');
    await again();
  });
});
