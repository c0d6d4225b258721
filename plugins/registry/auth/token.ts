/**
 * The Docker token flow (https://distribution.github.io/distribution/spec/auth/token/ and
 * .../oauth/): GET `realm?service=S&scope=repository:NAME:pull` with Basic credentials (or none
 * for an anonymous token), or POST an OAuth2 refresh-token grant for identity tokens.
 */
import type { Logger } from 'ocipull';
import { OcipullError } from 'ocipull';
import { readSmallBody, registryErrors } from '../errors.js';
import { displayUrl, type HttpClient, header } from '../http.js';
import type { Credential } from './credentials.js';

export interface Token {
  token: string;
  /** Epoch ms after which it is not used again. */
  expiresAt: number;
}

const DEFAULT_EXPIRY_S = 60;
const TOKEN_BODY_LIMIT = 1024 * 1024;

export function basicHeader(credential: Credential): string {
  return `Basic ${Buffer.from(`${credential.username ?? ''}:${credential.password ?? ''}`).toString('base64')}`;
}

export async function fetchToken(
  http: HttpClient,
  challenge: { realm: string; service?: string },
  scopes: string[],
  credential: Credential | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<Token> {
  let realm: URL;
  try {
    realm = new URL(challenge.realm);
  } catch {
    throw new OcipullError(
      'UNEXPECTED_RESPONSE',
      `the registry's token realm ${JSON.stringify(challenge.realm)} is not a URL`,
    );
  }
  const what = `token request to ${displayUrl(realm)}`;
  const headers: Record<string, string> = {};
  let method: 'GET' | 'POST' = 'GET';
  let body: string | undefined;
  if (credential?.identityToken) {
    method = 'POST';
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: credential.identityToken,
      client_id: 'ocipull',
    });
    if (challenge.service) form.set('service', challenge.service);
    form.set('scope', scopes.join(' '));
    body = form.toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else {
    if (challenge.service) realm.searchParams.set('service', challenge.service);
    for (const scope of scopes) realm.searchParams.append('scope', scope);
    if (credential) {
      realm.searchParams.set('account', credential.username ?? '');
      headers.authorization = basicHeader(credential);
    }
  }
  const response = await http.send({ url: realm, method, headers, body, signal, log, what });
  const text = await readSmallBody(response, TOKEN_BODY_LIMIT);
  if (response.status === 401 || response.status === 403) {
    const { summary } = registryErrors(text);
    throw new OcipullError(
      'UNAUTHORIZED',
      `${what} was refused (HTTP ${response.status}) with credentials from ${credential?.source ?? 'nowhere (anonymous)'}${summary ? `: ${summary}` : ''}`,
      {
        hint: credential
          ? 'check the user name and password (or token) in that source'
          : 'log in, or pass --creds USER:PASSWORD',
      },
    );
  }
  if (response.status !== 200) {
    throw new OcipullError(
      response.status >= 500 ? 'SERVER_ERROR' : 'UNEXPECTED_RESPONSE',
      `${what} answered HTTP ${response.status}`,
    );
  }
  let parsed: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OcipullError(
      'UNEXPECTED_RESPONSE',
      `${what} answered ${header(response, 'content-type') ?? 'something'} that is not JSON`,
    );
  }
  const token = parsed.token || parsed.access_token;
  if (!token) throw new OcipullError('UNEXPECTED_RESPONSE', `${what} answered JSON without a token`);
  log.redact(token);
  const issued = parsed.issued_at ? Date.parse(parsed.issued_at) : Number.NaN;
  const start = Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now());
  const lifetime = (parsed.expires_in && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_EXPIRY_S) * 1000;
  // Renew a little early so a token does not expire between check and use.
  return { token, expiresAt: start + lifetime - Math.min(10_000, lifetime / 10) };
}
