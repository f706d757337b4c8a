import bcrypt from 'bcrypt';

/** bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut. */
export const MAX_PASSWORD_BYTES = 72;

export const passwordTooLong = (password: string) => Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;

export const hashPassword = (password: string, rounds: number) => bcrypt.hash(password, rounds);

export function createPasswordChecker(rounds: number) {
  // Compared against when the email is unknown, so that case costs as much as a wrong password.
  const dummyHash = bcrypt.hashSync('not-a-password-anyone-has', rounds);
  return (password: string, hash: string | undefined) => bcrypt.compare(password, hash ?? dummyHash).then((ok) => ok && hash !== undefined);
}
