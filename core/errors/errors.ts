import { CODES, type ErrorCode, exitCodeFor } from './codes.js';

export interface ErrorDetails {
  /** What would have been accepted, shown after the message. */
  hint?: string;
  plugin?: string;
  hook?: string;
  cause?: unknown;
  /** Machine-readable facts for --json output (never secrets). */
  data?: Record<string, unknown>;
}

/** The one error class of ocipull. `code` is stable and documented in docs/errors.md. */
export class OcipullError extends Error {
  readonly code: ErrorCode;
  hint?: string;
  plugin?: string;
  hook?: string;
  readonly data?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'OcipullError';
    this.code = code;
    this.hint = details.hint;
    this.plugin = details.plugin;
    this.hook = details.hook;
    this.data = details.data;
  }

  get exitCode(): number {
    return exitCodeFor(this.code);
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.plugin ? { plugin: this.plugin } : {}),
      ...(this.hook ? { hook: this.hook } : {}),
      ...(this.data ? { data: this.data } : {}),
    };
  }
}

export function isOcipullError(error: unknown, code?: ErrorCode): error is OcipullError {
  return error instanceof OcipullError && (code === undefined || error.code === code);
}

/** Shorthand used across the code base. */
export function fail(code: ErrorCode, message: string, details?: ErrorDetails): never {
  throw new OcipullError(code, message, details);
}

/**
 * Wrap anything a plugin threw so it names the plugin and the hook. An OcipullError keeps its
 * code (and gains the names); anything else becomes PLUGIN_FAILED with the original as cause.
 */
export function wrapPluginError(error: unknown, plugin: string, hook: string): OcipullError {
  if (error instanceof OcipullError) {
    error.plugin ??= plugin;
    error.hook ??= hook;
    return error;
  }
  if (isAbortError(error)) {
    return new OcipullError('INTERRUPTED', 'interrupted', { plugin, hook, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new OcipullError('PLUGIN_FAILED', `plugin ${plugin} failed in hook ${hook}: ${message}`, {
    plugin,
    hook,
    cause: error,
  });
}

export function isAbortError(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'AbortError' || (error as { code?: string }).code === 'ABORT_ERR')
  );
}

/** Normalise any thrown value to an OcipullError for reporting. */
export function toOcipullError(error: unknown): OcipullError {
  if (error instanceof OcipullError) return error;
  if (isAbortError(error)) return new OcipullError('INTERRUPTED', 'interrupted', { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new OcipullError('INTERNAL', message, { cause: error });
}

export { CODES, type ErrorCode };
