import type { Logger, LogLevel } from './types.js';

const ORDER: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };

/**
 * Text with control characters other than newline and tab escaped (`\u001b`): messages carry
 * references, file names and server answers, none of which may drive the terminal.
 */
export function printable(text: string): string {
  return text.replace(
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A logger writing to a stream (stderr by default) that redacts every registered secret. */
export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const secrets = new Set<string>();
  const scrub = (text: string): string => {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join('***');
    return out;
  };
  const emit = (at: LogLevel, message: string) => {
    if (ORDER[at] <= ORDER[level]) write(`${at === 'info' ? '' : `${at}: `}${printable(scrub(message))}\n`);
  };
  return {
    level,
    error: (m) => emit('error', m),
    warn: (m) => emit('warn', m),
    info: (m) => emit('info', m),
    debug: (m) => emit('debug', m),
    redact: (secret) => {
      if (secret && secret.length >= 3) secrets.add(secret);
    },
  };
}
