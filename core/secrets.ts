/**
 * Credentials never reach output. This module is the one place that knows how: which part of a
 * `USER:PASSWORD` is secret, how secrets are replaced in text, how userinfo is hidden in
 * references and URLs, and which command-line arguments carry secrets.
 */

/** The secret of `USER:PASSWORD` (the whole value when there is no colon: better hidden than shown). */
export function passwordOf(creds: string | undefined): string | undefined {
  if (!creds) return undefined;
  const secret = creds.slice(creds.indexOf(':') + 1);
  return secret === '' ? undefined : secret;
}
