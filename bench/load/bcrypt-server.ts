// The login floor's floor: a server that only checks the posted password with bcrypt at the
// benchmark's cost, in as many processes as the API. A login can be no faster than this.
// BENCH_BCRYPT_PARALLEL caps the checks running at once, as the API's password queue does.
import bcrypt from 'bcrypt';
import { readBody, sendJson, serve } from './serve.js';

const parallel = Number(process.env.BENCH_BCRYPT_PARALLEL || Infinity);
let running = 0;
const waiting: (() => void)[] = [];

async function compare(password: string, hash: string): Promise<boolean> {
  if (running >= parallel) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await bcrypt.compare(password, hash);
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

await serve(async () => {
  const hash = await bcrypt.hash(process.env.BENCH_PASSWORD!, Number(process.env.BCRYPT_ROUNDS));
  return {
    handler: (req, res) => {
      if (req.url === '/healthz') return sendJson(res, 200, { status: 'ok' });
      readBody(req)
        .then(async (body) => {
          const { password } = JSON.parse(body) as { password: string };
          sendJson(res, (await compare(password, hash)) ? 200 : 401, { ok: true });
        })
        .catch(() => sendJson(res, 400, { status: 400 }));
    },
    close: async () => {},
  };
});
