import bcrypt from 'bcrypt';

/** bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut. */
export const MAX_PASSWORD_BYTES = 72;

export const passwordTooLong = (password: string) => Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;

export const hashPassword = (password: string, rounds: number) => bcrypt.hash(password, rounds);

export function createPasswordChecker(rounds: number) {
  // Compared against when the email is unknown, so that case costs as much as a wrong password.
  // Hashed off the main thread: hashSync held up every start-up by one full hash.
  const dummyHash = bcrypt.hash('not-a-password-anyone-has', rounds);
  return async (password: string, hash: string | undefined) => (await bcrypt.compare(password, hash ?? (await dummyHash))) && hash !== undefined;
}
