import { createHash } from 'node:crypto';

// Only a hash is stored: a leaked table cannot be replayed as tokens.
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
