import { beforeAll, describe, expect, it } from 'vitest';
import spec from '../generated/openapi.json' with { type: 'json' };
import { problemOf, useServer } from './support/server.js';
import { asUser } from './support/tasks.js';
import { signUp, type SignedUp } from './support/users.js';

const server = useServer();
let admin: SignedUp;
beforeAll(async () => {
  admin = await signUp(server(), { role: 'admin' });
});

interface Parameter {
  name: string;
  in: string;
  schema?: { type?: string; $ref?: string };
  example?: unknown;
}

const resolve = <T>(node: T & { $ref?: string }): T =>
  node.$ref ? resolve(node.$ref.split('/').slice(1).reduce<any>((n, key) => n[key], spec)) : node;

// Every integer parameter the spec declares, so one added later is covered without a new test.
const integerParameters = Object.entries(spec.paths).flatMap(([path, item]) =>
  Object.entries(item as Record<string, any>)
    .filter(([, op]) => op?.operationId)
    .flatMap(([method, op]) => {
      const parameters = [...((item as any).parameters ?? []), ...(op.parameters ?? [])].map((p) => resolve<Parameter>(p));
      return parameters
        .filter((p) => p.in !== 'cookie' && resolve(p.schema ?? {}).type === 'integer')
        .map((parameter) => ({ method: method.toUpperCase(), path, parameters, parameter }));
    }),
);

function send(target: (typeof integerParameters)[number], value: string) {
  const { method, path, parameters, parameter } = target;
  const pathValue = (name: string) => (name === parameter.name && parameter.in === 'path' ? value : String(parameters.find((p) => p.in === 'path' && p.name === name)!.example));
  let url = path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(pathValue(name)));
  const headers: Record<string, string> = {};
  if (parameter.in === 'query') url += `?${parameter.name}=${encodeURIComponent(value)}`;
  if (parameter.in === 'header') headers[parameter.name] = value;
  return server().fetch(url, { method, headers: asUser(admin, headers) });
}

const LAX = ['0x10', '1e1', '+5', ' 5', '5 ', '-0', '5.0', '020', '', '\uff15'];

describe('integer parameters are plain decimal digits', () => {
  it('the spec declares integer parameters (so the tests below test something)', () => {
    expect(integerParameters.map((t) => `${t.path} ${t.parameter.name}`)).toEqual(expect.arrayContaining(['/tasks limit', '/tasks offset', '/users limit', '/users offset']));
  });

  for (const target of integerParameters) {
    const pointer = `/${target.parameter.in}/${target.parameter.in === 'header' ? target.parameter.name.toLowerCase() : target.parameter.name}`;
    it.each(LAX)(`${target.method} ${target.path} refuses ${target.parameter.name}=%j with 422 naming ${pointer}`, async (value) => {
      const res = await send(target, value);
      expect(res.status).toBe(422);
      expect((await problemOf(res)).errors?.map((e) => e.pointer)).toEqual([pointer]);
    });
  }

  it('lists a lax integer together with the other violations of the request', async () => {
    const res = await server().fetch('/tasks?limit=0x10&offset=-1&status=later', { headers: asUser(admin) });
    expect(res.status).toBe(422);
    const problem = await problemOf(res);
    expect(problem.errors?.map((e) => e.pointer).sort()).toEqual(['/query/limit', '/query/offset', '/query/status']);
    expect(problem.errors?.find((e) => e.pointer === '/query/limit')?.message).toBe('must be written in plain decimal digits');
  });

  it('takes plain decimal digits as before', async () => {
    const res = await server().fetch('/tasks?limit=10&offset=0', { headers: asUser(admin) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ limit: 10, offset: 0 });
  });
});
