/** Map failures of undici and node:net/tls onto ocipull's shared error codes. */
import { isAbortError, isOcipullError, OcipullError } from 'ocipull';

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);
/** Connection-level failures worth another attempt. DNS failures are not. */
const RETRYABLE = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

function codeOf(error: unknown): string | undefined {
  let e: unknown = error;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR' && code !== 'ERR_INVALID_ARG_TYPE') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isTlsCode(code: string | undefined): boolean {
  return (
    code !== undefined &&
    (TLS_CODES.has(code) ||
      code.startsWith('ERR_SSL_') ||
      code.startsWith('ERR_TLS_') ||
      code.startsWith('CERT_'))
  );
}

/** The TLS handshake met a server speaking plain HTTP. */
export function isPlainHttpAnswer(error: unknown): boolean {
  const code = codeOf(error);
  const message =
    String((error as Error)?.message ?? '') +
    String(((error as { cause?: Error })?.cause as Error)?.message ?? '');
  return (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    /wrong version number|packet length too long|http request/i.test(message)
  );
}

export function isRetryableError(error: unknown): boolean {
  if (isOcipullError(error))
    return error.code === 'NETWORK' || error.code === 'TIMEOUT' || error.code === 'TRUNCATED';
  const code = codeOf(error);
  return code !== undefined && (RETRYABLE.has(code) || TIMEOUT_CODES.has(code));
}

/** An OcipullError (NETWORK, TIMEOUT, TLS, TRUNCATED) describing a failed request to `url`. */
export function toNetworkError(error: unknown, what: string): unknown {
  if (isOcipullError(error) || isAbortError(error)) return error;
  const code = codeOf(error);
  const detail = `${(error as Error)?.message ?? String(error)}${code ? ` (${code})` : ''}`;
  if (code && TIMEOUT_CODES.has(code)) {
    return new OcipullError('TIMEOUT', `${what}: timed out: ${detail}`, {
      hint: 'the registry stopped answering; raise transports.docker.timeoutMs or try again',
      cause: error,
    });
  }
  if (isTlsCode(code)) {
    return new OcipullError('TLS', `${what}: TLS failed: ${detail}`, {
      hint: 'add the registry CA under /etc/containers/certs.d/HOST/ca.crt, or (if you trust the network) pass --tls-verify=false',
      cause: error,
    });
  }
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return new OcipullError('TRUNCATED', `${what}: the body ended before its Content-Length: ${detail}`, {
      cause: error,
    });
  }
  return new OcipullError('NETWORK', `${what}: ${detail}`, { cause: error });
}
