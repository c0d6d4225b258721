/** Map failures of undici and node:net/tls onto ocipull's shared error codes. */
import { maxHeaderSize } from 'node:http';
import { isOcipullError, OcipullError } from 'ocipull';
import { displayProxy } from './proxy.js';

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
/**
 * Certificate verification failures: the server speaks TLS, but its certificate is not trusted.
 * Plain HTTP is no answer to these, and the message says what is wrong with the certificate.
 */
const CERTIFICATE_PROBLEMS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends in a self-signed CA that is not trusted here',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it is signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT: 'it is signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it is signed by an unknown CA',
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'it was issued for another host name',
  HOSTNAME_MISMATCH: 'it was issued for another host name',
  CERT_UNTRUSTED: 'it is not trusted',
  CERT_REJECTED: 'it was rejected',
  CERT_REVOKED: 'it was revoked',
  CERT_SIGNATURE_FAILURE: 'its signature does not verify',
  INVALID_CA: 'its CA certificate is invalid',
  INVALID_PURPOSE: 'it is not meant for a TLS server',
  PATH_LENGTH_EXCEEDED: 'its chain is too long',
};

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

/** A certificate that did not verify (code TLS, `data.certificate`): plain HTTP must not be tried instead. */
export function isCertificateError(error: unknown): boolean {
  return (
    isOcipullError(error, 'TLS') &&
    (error.data as { certificate?: boolean } | undefined)?.certificate === true
  );
}

export function isRetryableError(error: unknown): boolean {
  if (isOcipullError(error)) {
    if (error.code === 'PROXY') return ((error.data as { status?: number })?.status ?? 0) >= 500;
    return error.code === 'NETWORK' || error.code === 'TIMEOUT' || error.code === 'TRUNCATED';
  }
  const code = codeOf(error);
  return code !== undefined && (RETRYABLE.has(code) || TIMEOUT_CODES.has(code));
}

export interface Hop {
  /** The URL asked for when it failed (after redirects). */
  url?: URL;
  /** The proxy the request went through, if any. */
  proxy?: URL;
}

/** undici's refusal of a CONNECT tunnel: `Proxy response (502) !== 200 when HTTP Tunneling`. */
function tunnelStatus(error: unknown): number | undefined {
  let e: unknown = error;
  for (let i = 0; i < 4 && e; i++) {
    const m = /Proxy response \((\d+)\)/.exec(String((e as Error).message ?? ''));
    if (m) return Number(m[1]);
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function proxyError(what: string, hop: Hop & { proxy: URL }, status: number, cause: unknown): OcipullError {
  const proxy = displayProxy(hop.proxy);
  const target = hop.url ? hop.url.host : 'the registry';
  const hint =
    status === 407
      ? 'the proxy wants credentials: put them in the proxy URL (HTTPS_PROXY=http://USER:PASSWORD@HOST:PORT)'
      : `the proxy could not or would not reach ${target}; check HTTPS_PROXY / HTTP_PROXY, or list ${target} in NO_PROXY to connect directly`;
  return new OcipullError(
    'PROXY',
    `${what}: the proxy ${proxy} refused the tunnel to ${target}: it answered HTTP ${status} to CONNECT`,
    { hint, cause, data: { proxy, status, target } },
  );
}

/**
 * An OcipullError (NETWORK, TIMEOUT, TLS, TRUNCATED, PROXY) describing a failed request. An
 * AbortError that reaches here is not the run's signal (callers check that first): undici names
 * some connection failures so, e.g. a proxy refusing a tunnel.
 */
export function toNetworkError(error: unknown, what: string, hop: Hop = {}): unknown {
  if (isOcipullError(error)) return error;
  const status = hop.proxy ? tunnelStatus(error) : undefined;
  if (hop.proxy && status !== undefined) return proxyError(what, { ...hop, proxy: hop.proxy }, status, error);
  const code = codeOf(error);
  const via = hop.proxy ? ` (through the proxy ${displayProxy(hop.proxy)})` : '';
  const detail = `${(error as Error)?.message ?? String(error)}${code ? ` (${code})` : ''}${via}`;
  const problem = code ? CERTIFICATE_PROBLEMS[code] : undefined;
  if (problem) {
    const host = hop.url?.host ?? 'the registry';
    const dir = hop.url ? hop.url.host : 'HOST[:PORT]';
    return new OcipullError(
      'TLS',
      `${what}: the TLS certificate of ${host} did not verify: ${problem} (${detail})`,
      {
        hint: `to trust it, put its CA certificate (PEM) in /etc/containers/certs.d/${dir}/ca.crt (or ~/.config/containers/certs.d/${dir}/ca.crt), or in DIR/ca.crt and pass --cert-dir DIR; if you trust the network, pass --tls-verify=false (or list ${dir} in insecureRegistries)`,
        cause: error,
        data: { host, tlsCode: code, certificate: true },
      },
    );
  }
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
      data: { host: hop.url?.host, tlsCode: code },
    });
  }
  if (code === 'UND_ERR_HEADERS_OVERFLOW') {
    return new OcipullError(
      'UNEXPECTED_RESPONSE',
      `${what}: the response headers are larger than the ${maxHeaderSize} bytes accepted${via}: not a registry answer`,
      {
        hint: 'a proxy or server in the way may be misbehaving; retrying will not help',
        cause: error,
      },
    );
  }
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return new OcipullError('TRUNCATED', `${what}: the body ended before its Content-Length: ${detail}`, {
      cause: error,
    });
  }
  return new OcipullError('NETWORK', `${what}: ${detail}`, { cause: error });
}
