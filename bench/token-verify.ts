// jsonwebtoken with a string secret tries crypto.createPublicKey on every call (it throws, and
// only then builds a secret key); a KeyObject made once skips that. Verify calls per second, both
// ways, in one run.
import { createSecretKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';

const SECRET = 'a-bench-secret-that-is-long-enough-for-hs256';
const DURATION_MS = Number(process.env.BENCH_MS ?? 2000);
const token = jwt.sign({ sid: '5d7e1f3a-2b4c-4e6d-8f0a-1b2c3d4e5f60', typ: 'access' }, SECRET, { algorithm: 'HS256', expiresIn: 900, subject: '3fa85f64-5717-4562-b3fc-2c963f66afa6' });

function rate(key: jwt.Secret): number {
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < DURATION_MS) {
    for (let i = 0; i < 100; i++) jwt.verify(token, key, { algorithms: ['HS256'] });
    calls += 100;
  }
  return calls / ((performance.now() - start) / 1000);
}

rate(SECRET); // warm-up
const asString = rate(SECRET);
const asKeyObject = rate(createSecretKey(Buffer.from(SECRET)));
console.log(`jwt.verify, string secret:  ${asString.toFixed(0).padStart(8)} calls/s`);
console.log(`jwt.verify, KeyObject:      ${asKeyObject.toFixed(0).padStart(8)} calls/s  (${(asKeyObject / asString).toFixed(2)}x)`);
