/** The mails the service sends, each carrying one link. */
export type MailKind = 'password_reset' | 'email_verification';

export interface Message {
  subject: string;
  text: string;
  html: string;
}

interface Wording {
  subject: string;
  why: string;
  action: string;
  button: string;
  ifNotYou: string;
}

// Nothing personal beyond the address the mail goes to: no name, no account id, no other address.
const WORDING: Record<MailKind, Wording> = {
  password_reset: {
    subject: 'Reset your Task Management password',
    why: 'Someone asked to reset the password of the Task Management account that uses this e-mail address.',
    action: 'To choose a new password, open this link:',
    button: 'Choose a new password',
    ifNotYou: 'If that was not you, ignore this mail: the password stays as it is.',
  },
  email_verification: {
    subject: 'Confirm your e-mail address for Task Management',
    why: 'A Task Management account was made with this e-mail address.',
    action: 'To confirm that the address is yours, open this link:',
    button: 'Confirm my e-mail address',
    ifNotYou: 'If that was not you, ignore this mail.',
  },
};

/** `2026-12-04 10:00 UTC`: down to the minute, never later than the real expiry. */
export const formatExpiry = (at: Date) => `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The mail of `kind` with its link and when the link stops working, as plain text and as HTML. */
export function render(kind: MailKind, link: string, expiresAt: Date): Message {
  const words = WORDING[kind];
  const until = `The link works once, until ${formatExpiry(expiresAt)}.`;
  const text = [words.why, '', words.action, link, '', until, '', words.ifNotYou, ''].join('\n');
  const href = escapeHtml(link);
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(words.subject)}</title></head>
<body style="font-family: sans-serif; line-height: 1.5;">
<p>${escapeHtml(words.why)}</p>
<p>${escapeHtml(words.action)}</p>
<p><a href="${href}" style="font-weight: bold;">${escapeHtml(words.button)}</a></p>
<p>Or copy this address into your browser: <a href="${href}">${href}</a></p>
<p>The link works once, until <time datetime="${expiresAt.toISOString()}">${formatExpiry(expiresAt)}</time>.</p>
<p>${escapeHtml(words.ifNotYou)}</p>
</body>
</html>
`;
  return { subject: words.subject, text, html };
}
