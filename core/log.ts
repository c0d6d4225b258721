import { SecretSet } from './secrets.js';

// Scrubbing lives in secrets.ts; these names stay importable from here for existing callers.
export { redactSecrets, withoutUserinfo } from './secrets.js';

import type { Logger, LogLevel } from './types.js';

const ORDER: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };

/**
 * What must never reach a terminal raw: C0 controls (ESC, BEL, CR, LF, TAB, …), DEL, C1 controls,
 * the line and paragraph separators, and the bidi marks, embeddings, overrides and isolates
 * (U+061C, U+200E-200F, U+202A-202E, U+2066-2069) with which text can be made to read other
 * than it is.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNPRINTABLE_KEEP_LF =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const escaped = (c: string) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * Text safe to print, the one escaping of everything ocipull writes as text: messages, log lines,
 * table cells and stdout carry references, file names, annotations and server answers, none of
 * which may drive the terminal or forge a line. Each such character is written as an escape
 * (`\n`, `\r`, `\t`, else `\u001b`-style), which is also a valid escape inside a JSON string.
 * `multiline` keeps LF: for text whose line breaks are ocipull's own (a table, a message quoting
 * the user's config file), the parts from elsewhere having been escaped on their own.
 */
export function printable(text: string, options: { multiline?: boolean } = {}): string {
  return text.replace(options.multiline ? UNPRINTABLE_KEEP_LF : UNPRINTABLE, escaped);
}

/** A logger writing to a stream (stderr by default) that redacts every registered secret. */
export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const secrets = new SecretSet();
  const scrub = (text: string): string => secrets.scrub(text);
  const emit = (at: LogLevel, message: string) => {
    if (ORDER[at] <= ORDER[level]) write(`${at === 'info' ? '' : `${at}: `}${printable(scrub(message))}\n`);
  };
  return {
    level,
    error: (m) => emit('error', m),
    warn: (m) => emit('warn', m),
    info: (m) => emit('info', m),
    debug: (m) => emit('debug', m),
    redact: (secret) => secrets.add(secret),
  };
}
