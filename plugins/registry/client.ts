/**
 * One registry host speaking the distribution API: `GET /v2/` ping (which picks HTTPS or, when
 * allowed, plain HTTP, and learns the auth challenge), then authorized GETs with one renewal
 * on 401. Reusable for push: pass `actions: 'pull,push'`.
 */
import { type Logger, OcipullError } from 'ocipull';
import { parseWwwAuthenticate, pickChallenge } from './auth/challenge.js';
import { AuthSession, type CredentialLookup } from './auth/session.js';
import { isHtml, statusError, unexpectedResponse } from './errors.js';
import { discard, displayUrl, type HttpClient, type HttpResponse } from './http.js';
import { isCertificateError, isPlainHttpAnswer } from './net-errors.js';

export interface RequestOptions {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Request body (push: manifests, blob chunks). */
  body?: string | Uint8Array;
  /** Extra token scopes (a mount's `repository:FROM:pull`). */
  scopes?: string[];
  headers?: Record<string, string>;
  /** Scope actions: `pull` (default) or `pull,push`. */
  actions?: string;
  what: string;
  signal: AbortSignal;
  log: Logger;
}

export class RegistryClient {
  readonly auth: AuthSession;
  private base?: URL;
  private pinging?: Promise<URL>;

  constructor(
    /** API host[:port] (Docker Hub: registry-1.docker.io). */
    readonly host: string,
    readonly http: HttpClient,
    lookup: CredentialLookup,
  ) {
    this.auth = new AuthSession(http, lookup);
  }

  /** `GET /v2/`: once per client. Resolves with the base URL (`https://host/`). */
  ping(signal: AbortSignal, log: Logger): Promise<URL> {
    if (this.base) return Promise.resolve(this.base);
    this.pinging ??= this.doPing(signal, log).then(
      (base) => {
        this.base = base;
        return base;
      },
      (error) => {
        this.pinging = undefined;
        throw error;
      },
    );
    return this.pinging;
  }

  private async doPing(signal: AbortSignal, log: Logger): Promise<URL> {
    const policy = this.http.tls.policy(this.host);
    const what = `registry ${this.host}`;
    let response: HttpResponse;
    try {
      response = await this.http.send({
        url: new URL(`https://${this.host}/v2/`),
        signal,
        log,
        what: `${what}: GET /v2/`,
      });
    } catch (httpsError) {
      if (signal.aborted) throw httpsError;
      if (!policy.allowHttp) {
        if (isPlainHttpAnswer(httpsError)) {
          throw new OcipullError(
            'INSECURE_REFUSED',
            `${what} speaks plain HTTP, which is allowed only for loopback or insecure registries`,
            {
              hint: `add "${this.host}" to insecureRegistries in the config, or pass --tls-verify=false`,
              cause: httpsError,
            },
          );
        }
        throw httpsError;
      }
      // The host speaks TLS and its certificate is the problem: plain HTTP would hide that (a Go
      // registry answers it with 400), so say which certificate failed instead.
      if (isCertificateError(httpsError)) throw httpsError;
      log.debug(
        `${what}: HTTPS failed (${(httpsError as Error).message}); trying plain HTTP (${policy.reason})`,
      );
      try {
        response = await this.http.send({
          url: new URL(`http://${this.host}/v2/`),
          signal,
          log,
          what: `${what}: GET /v2/`,
        });
      } catch {
        throw httpsError;
      }
      // An HTTPS server answering the plain request (Go's registry: 400 "Client sent an HTTP
      // request to an HTTPS server") is no registry over HTTP: the HTTPS failure is the real one.
      if (response.status !== 200 && response.status !== 401) {
        await discard(response);
        throw httpsError;
      }
    }
    if (isHtml(response)) {
      await discard(response);
      throw unexpectedResponse(response, `${what}: GET /v2/`, 'an HTML page, not the registry API');
    }
    if (response.status === 200) {
      await discard(response);
      this.auth.setChallenge(undefined);
    } else if (response.status === 401) {
      const challenge = pickChallenge(parseWwwAuthenticate(response.headers['www-authenticate']));
      await discard(response);
      if (!challenge) {
        throw new OcipullError(
          'UNAUTHORIZED',
          `${what} answered 401 without a Bearer or Basic WWW-Authenticate challenge`,
        );
      }
      this.auth.setChallenge(challenge);
    } else {
      throw await statusError(response, {
        what: `${what}: GET /v2/ (API version check)`,
        notFound: 'UNEXPECTED_RESPONSE',
      });
    }
    const base = new URL(`${response.url.protocol}//${this.host}/`);
    log.debug(`${what}: API at ${base.origin}, auth ${this.auth.known ? 'known' : 'unknown'}`);
    return base;
  }

  /** An authorized request to `path` (below /v2/) about `repository`. Non-2xx answers are returned as they are. */
  async request(repository: string, path: string, options: RequestOptions): Promise<HttpResponse> {
    const base = await this.ping(options.signal, options.log);
    const url = new URL(path, base);
    const actions = options.actions ?? 'pull';
    let authorization = await this.auth.authorization(
      repository,
      actions,
      options.signal,
      options.log,
      options.scopes,
    );
    for (let attempt = 0; ; attempt++) {
      const value = authorization;
      const response = await this.http.send({
        url,
        method: options.method,
        body: options.body,
        headers: options.headers,
        // Only the registry's own origin gets credentials: never a storage host it redirects to.
        authorize: (target) =>
          value && target.origin === base.origin ? { authorization: value } : undefined,
        signal: options.signal,
        log: options.log,
        what: options.what,
      });
      if (response.status !== 401 || attempt > 0) return response;
      const challenge = pickChallenge(parseWwwAuthenticate(response.headers['www-authenticate']));
      this.auth.renew(challenge);
      try {
        authorization = await this.auth.authorization(
          repository,
          actions,
          options.signal,
          options.log,
          options.scopes,
        );
      } catch (error) {
        await discard(response);
        throw error;
      }
      if (!authorization) return response;
      options.log.debug(`${options.what}: 401 from ${displayUrl(url)}; renewing authorization`);
      await discard(response);
    }
  }

  /** Hint for 401/403 errors: which credential source was tried. */
  credentialHint(repository: string): Promise<string> {
    return this.auth.describe(repository);
  }
}
