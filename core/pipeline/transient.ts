import { isOcipullError } from '../errors/errors.js';

const TRANSIENT_CODES = new Set(['NETWORK', 'TIMEOUT', 'TRUNCATED', 'SERVER_ERROR', 'TOO_MANY_REQUESTS']);
const TRANSIENT_SYSTEM = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** Errors worth a reconnect: the connection, not the content, failed. */
export function isTransient(error: unknown): boolean {
  if (isOcipullError(error)) return TRANSIENT_CODES.has(error.code);
  const code = (error as { code?: string })?.code;
  if (code && TRANSIENT_SYSTEM.has(code)) return true;
  const cause = (error as { cause?: unknown })?.cause;
  return cause !== undefined && cause !== error && isTransient(cause);
}
