import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts the links the outbox keeps until they are sent. A link carries a live token, of which
 * the database otherwise keeps only a hash: sealed, a copy of the table (a backup, a read-only
 * leak) is no key to anyone's account without SECRET_KEY too. The key is derived from SECRET_KEY
 * for this use alone (HKDF), so it is never the key that signs tokens.
 */
export function createSeal(secretKey: string) {
  const key = Buffer.from(hkdfSync('sha256', secretKey, '', 'task-management mail_outbox links', 32));
  return {
    seal(text: string): string {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(CIPHER, key, iv);
      const sealed = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
    },
    /** Throws when `sealed` was not made with this key (SECRET_KEY changed) or was altered. */
    open(sealed: string): string {
      const raw = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv(CIPHER, key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    },
  };
}

export type Seal = ReturnType<typeof createSeal>;
