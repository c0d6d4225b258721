/**
 * Authorization for one registry host: the challenge learnt from `GET /v2/` (or a later 401),
 * credentials looked up once per repository, bearer tokens cached per scope and renewed on 401.
 */
import type { Logger } from 'ocipull';
import type { HttpClient } from '../http.js';
import type { Challenge } from './challenge.js';
import type { Credential } from './credentials.js';
import { basicHeader, fetchToken, type Token } from './token.js';

/** Finds credentials for a repository of this host; pushes the names of the sources it looked at. */
export type CredentialLookup = (repository: string, tried: string[]) => Promise<Credential | undefined>;

export function scopeFor(repository: string, actions: string): string {
  return `repository:${repository}:${actions}`;
}

export class AuthSession {
  /** undefined: not known yet; null: the registry wants no authentication. */
  private challenge: Challenge | null | undefined;
  private readonly tokens = new Map<string, Promise<Token>>();
  private readonly credentials = new Map<
    string,
    { tried: string[]; found: Promise<Credential | undefined> }
  >();

  constructor(
    private readonly http: HttpClient,
    private readonly lookup: CredentialLookup,
  ) {}

  get known(): boolean {
    return this.challenge !== undefined;
  }

  setChallenge(challenge: Challenge | undefined): void {
    this.challenge = challenge ?? null;
  }

  credentialFor(repository: string, log: Logger): Promise<Credential | undefined> {
    let entry = this.credentials.get(repository);
    if (!entry) {
      const tried: string[] = [];
      const found = this.lookup(repository, tried).then((credential) => {
        if (credential?.password) log.redact(credential.password);
        if (credential?.identityToken) log.redact(credential.identityToken);
        if (credential) log.redact(basicHeader(credential).slice('Basic '.length));
        if (credential) log.debug(`using credentials from ${credential.source}`);
        return credential;
      });
      entry = { tried, found };
      this.credentials.set(repository, entry);
    }
    return entry.found;
  }

  /** For error hints: which source was used, or where ocipull looked. */
  async describe(repository: string): Promise<string> {
    const entry = this.credentials.get(repository);
    const credential = entry ? await entry.found.catch(() => undefined) : undefined;
    if (credential)
      return `credentials from ${credential.source} were used; check them, or whether this account may read the repository`;
    const tried = entry?.tried.length
      ? entry.tried.join(', ')
      : '--creds, --authfile, REGISTRY_AUTH_FILE, containers auth.json, Docker config.json';
    return `no credentials were found for this registry (looked at: ${tried}); pass --creds USER:PASSWORD or log in`;
  }

  /** The Authorization header value for `repository` with `actions` (`pull`, `pull,push`), if any. */
  async authorization(
    repository: string,
    actions: string,
    signal: AbortSignal,
    log: Logger,
    extraScopes: string[] = [],
  ): Promise<string | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      const credential = await this.credentialFor(repository, log);
      return credential?.username !== undefined ? basicHeader(credential) : undefined;
    }
    if (challenge.scheme !== 'bearer' || !challenge.params.realm) return undefined;
    const scopes = [scopeFor(repository, actions), ...extraScopes];
    const scope = scopes.join(' ');
    const key = `${challenge.params.realm} ${challenge.params.service ?? ''} ${scope}`;
    let pending = this.tokens.get(key);
    if (pending) {
      const token = await pending.catch(() => undefined);
      if (!token || token.expiresAt <= Date.now()) pending = undefined;
    }
    if (!pending) {
      const credential = await this.credentialFor(repository, log);
      const realm = { realm: challenge.params.realm, service: challenge.params.service };
      pending = fetchToken(this.http, realm, scopes, credential, signal, log);
      this.tokens.set(key, pending);
      pending.catch(() => this.tokens.delete(key));
    }
    return `Bearer ${(await pending).token}`;
  }

  /** A request got 401: forget tokens (they may have expired or lack scope) and take the new challenge. */
  renew(challenge: Challenge | undefined): void {
    this.tokens.clear();
    if (challenge) this.challenge = challenge;
  }
}
