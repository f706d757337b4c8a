// An unknown email and a wrong password must take about the same time, or the timing tells
// which emails have accounts. Prints both distributions at the production bcrypt cost.
import { startServer } from '../tests/support/app-server.js';
import { database, measure, show } from './support.js';

const ROUNDS = process.env.BENCH_BCRYPT_ROUNDS ?? '12';
const N = Number(process.env.BENCH_N ?? 30);

const server = await startServer({ BCRYPT_ROUNDS: ROUNDS, AUTH_RATE_LIMIT: '0', LOGIN_MAX_FAILURES: '1000' }, { direct: true });
try {
  const email = 'timing@example.com';
  await server.client().POST('/auth/register', { body: { email, password: 'correct-horse-battery' } });
  const login = (body: { email: string; password: string }) => server.client().POST('/auth/login', { body });

  console.log(`login timing on ${database()}, bcrypt cost ${ROUNDS}`);
  const wrongPassword = await measure(N, () => login({ email, password: 'not-the-password' }));
  const unknownEmail = await measure(N, () => login({ email: 'nobody@example.com', password: 'not-the-password' }));
  const right = await measure(N, () => login({ email, password: 'correct-horse-battery' }));
  show('401 wrong password', wrongPassword);
  show('401 unknown email', unknownEmail);
  show('200 right password', right);
  console.log(`median difference unknown vs wrong: ${(unknownEmail.p50 - wrongPassword.p50).toFixed(1)} ms (${((unknownEmail.p50 / wrongPassword.p50 - 1) * 100).toFixed(1)} %)`);
} finally {
  await server.close();
}
