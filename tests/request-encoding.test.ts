import { describe, expect, it } from 'vitest';
import { ok } from '../src/client/index.js';
import { problemOf, useServer } from './support/server.js';
import { asUser } from './support/tasks.js';
import { signUp, type SignedUp } from './support/users.js';

// Raw bytes and charsets: a proxy in between would decode and re-encode the body itself.
const server = useServer({}, { direct: true });
const PROBLEM = 'application/problem+json; charset=utf-8';

const postTask = (user: SignedUp, body: string | Buffer, contentType: string) =>
  server().fetch('/tasks', { method: 'POST', headers: asUser(user, { 'Content-Type': contentType }), body });
const storedTitles = async (user: SignedUp) => (await server().knex('tasks').where('owner_id', user.id).select('title')).map((row) => row.title as string);

describe('request bodies are UTF-8 only', () => {
  // `+AHMAdABhAHQAdQBz-` is "status" in UTF-7: a byte-level filter sees an unknown key, a UTF-7 decoder a status.
  it.each([
    ['utf-7', Buffer.from('{"title":"report","+AHMAdABhAHQAdQBz-":"done"}')],
    ['UTF-7', Buffer.from('{"title":"report"}')],
    ['"utf-7"', Buffer.from('{"title":"report"}')],
    ['utf-16', Buffer.from('\ufeff{"title":"report"}', 'utf16le')],
    ['utf-16le', Buffer.from('{"title":"report"}', 'utf16le')],
    ['utf-32', Buffer.from('{"title":"report"}')],
    ['latin1', Buffer.from('{"title":"report"}')],
    ['iso-8859-1', Buffer.from('{"title":"report"}')],
    ['utf8', Buffer.from('{"title":"report"}')],
  ])('a body declared charset=%s is 415 and stores nothing', async (charset, body) => {
    const user = await signUp(server());
    const res = await postTask(user, body, `application/json; charset=${charset}`);
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toBe(PROBLEM);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(await problemOf(res)).toMatchObject({ type: '/problems/unsupported-media-type', status: 415 });
    expect(await storedTitles(user)).toEqual([]);
  });

  it('a registration declared charset=utf-7 is 415 and creates no account', async () => {
    const email = 'utf7@example.com';
    const res = await server().fetch('/auth/register', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=utf-7' },
      body: JSON.stringify({ email, password: 'correct-horse-battery' }),
    });
    expect(res.status).toBe(415);
    expect(await server().knex('users').where('email', email).first()).toBeUndefined();
  });

  it.each(['utf-8', 'UTF-8', '"utf-8"', '"UTF-8"'])('a body declared charset=%s is accepted', async (charset) => {
    const user = await signUp(server());
    const res = await postTask(user, '{"title":"report"}', `application/json; charset=${charset}`);
    expect(res.status).toBe(201);
  });

  it.each([
    ['a byte that never occurs in UTF-8', [0xff]],
    ['a truncated sequence', [0xe2, 0x82]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a continuation byte on its own', [0x80]],
  ])('%s is 400 and stores nothing', async (_name, bytes) => {
    const user = await signUp(server());
    const body = Buffer.concat([Buffer.from('{"title":"report '), Buffer.from(bytes), Buffer.from('"}')]);
    const res = await postTask(user, body, 'application/json');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe(PROBLEM);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(await problemOf(res)).toMatchObject({ type: '/problems/malformed-json', status: 400, detail: 'The request body is not valid UTF-8.' });
    expect(await storedTitles(user)).toEqual([]);
  });

  it('an update with invalid UTF-8 is 400 and leaves the task as it was', async () => {
    const user = await signUp(server());
    const task = await ok(user.client.POST('/tasks', { body: { title: 'report' } }));
    const res = await server().fetch(`/tasks/${task.id}`, {
      method: 'PUT',
      headers: asUser(user, { 'Content-Type': 'application/json' }),
      body: Buffer.concat([Buffer.from('{"title":"changed '), Buffer.from([0xff]), Buffer.from('"}')]),
    });
    expect(res.status).toBe(400);
    expect(await storedTitles(user)).toEqual(['report']);
  });

  it('a replacement character the client really sent (as UTF-8 or as an escape) is kept', async () => {
    const user = await signUp(server());
    expect((await postTask(user, Buffer.from('{"title":"sent \ufffd as bytes"}', 'utf8'), 'application/json')).status).toBe(201);
    expect((await postTask(user, '{"title":"sent \\ufffd as an escape"}', 'application/json')).status).toBe(201);
    expect((await storedTitles(user)).sort()).toEqual(['sent \ufffd as an escape', 'sent \ufffd as bytes']);
  });
});
