/**
 * Credentials never reach output, and this module is the one place that knows how: which part
 * of `USER:PASSWORD` is secret, which command-line arguments carry one, how secrets are replaced
 * in text, and how userinfo (and a URL's query, where signed storage URLs carry tokens) is left
 * out of references and URLs shown in messages. The logger, the error report, `ocipull config`
 * and the registry transport all use it.
 */

/** What a secret is replaced by. */
export const REDACTED = '***';

/** Secrets shorter than this are not hunted in text (they would mangle ordinary words). */
const MIN_SECRET = 3;

/** The secret of `USER:PASSWORD` (the whole value when there is no colon: better hidden than shown). */
export function passwordOf(creds: string | undefined): string | undefined {
  if (!creds) return undefined;
  const secret = creds.slice(creds.indexOf(':') + 1);
  return secret.length >= MIN_SECRET ? secret : undefined;
}

/**
 * The passwords given on a command line (`--creds`, `--src-creds`, `--dest-creds`, as
 * `--flag VALUE` or `--flag=VALUE`), to scrub from anything printed, even before a logger exists.
 */
export function secretsInArguments(argv: readonly string[]): string[] {
  const secrets: string[] = [];
  argv.forEach((arg, i) => {
    const flag = /^--(?:src-|dest-)?creds(?:=|$)/.exec(arg)?.[0];
    const value = flag === undefined ? undefined : flag.endsWith('=') ? arg.slice(flag.length) : argv[i + 1];
    const password = passwordOf(value);
    if (password) secrets.push(password);
  });
  return secrets;
}

/**
 * The tool's own words about credentials (`--creds USER:PASSWORD` in hints): a password that
 * happens to be one of them (`PASS`, `creds`) must not turn the advice into `--*** USER:***`.
 */
const OWN_WORDS = [
  '--creds USER:PASSWORD',
  '--creds USER:PASS',
  'USER:PASSWORD@',
  'USER:PASSWORD',
  'USER:PASS',
  '--creds',
];

/** Replace every secret in `text` by `***`, leaving the tool's own credential wording intact. */
export function redactSecrets(text: string, secrets: Iterable<string>): string {
  const list = [...secrets].filter((s) => s.length >= MIN_SECRET);
  if (list.length === 0) return text;
  const kept: string[] = [];
  // Private-use characters as placeholders: neither a secret nor any printed text holds them.
  let out = text;
  for (const word of OWN_WORDS) {
    out = out.split(word).join(`\ue000${kept.push(word) - 1}\ue001`);
  }
  for (const secret of list) out = out.split(secret).join(REDACTED);
  return out.replace(/\ue000(\d+)\ue001/g, (_, i: string) => kept[Number(i)]!);
}

/** A set of secrets and the scrubbing of text by them (what a logger holds). */
export class SecretSet {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (secret && secret.length >= MIN_SECRET) this.secrets.add(secret);
  }

  scrub(text: string): string {
    return redactSecrets(text, this.secrets);
  }
}

/** `docker://USER:PASS@host/…` with its userinfo hidden, for progress and log lines. */
export function withoutUserinfo(reference: string): string {
  return reference.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/s, '$1<credentials>@');
}

/**
 * A URL for messages: scheme, host and (unless `path: false`) path; never its user name,
 * password, query or fragment.
 */
export function urlForMessages(url: URL | string, options: { path?: boolean } = {}): string {
  const u = typeof url === 'string' ? new URL(url) : url;
  return `${u.protocol}//${u.host}${options.path === false ? '' : u.pathname}`;
}

/** A credential setting as shown (`ocipull config`): `***` when set. */
export function masked(value: string | undefined): string | undefined {
  return value ? REDACTED : undefined;
}
