/**
 * Where credentials come from, in this order (the first that has an entry for the registry wins):
 * `--creds`, `--authfile`, `REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
 * `~/.config/containers/auth.json`, `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
 * Auth files are containers-auth.json(5) / Docker config.json: `auths` entries (`auth` =
 * base64 `user:pass`, or `username`/`password`, or `identitytoken`), `credHelpers` per registry
 * and a global `credsStore` (Docker), both run as `docker-credential-<name> get`.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { OcipullError } from 'ocipull';
import { runCredentialHelper } from './helpers.js';

export interface Credential {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (Docker's `identitytoken`); exchanged with a POST to the realm. */
  identityToken?: string;
  /** Human-readable name of where this came from (never the secret). */
  source: string;
}

export interface CredentialContext {
  /** `USER:PASS` from --creds. */
  creds?: string;
  /** --authfile path. */
  authfile?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export interface AuthFileCandidate {
  path: string;
  /** How errors and logs name it. */
  source: string;
  /** A missing file is an error (an explicit --authfile). */
  required: boolean;
}

/** The auth files to read, in order. */
export function authFileCandidates(ctx: CredentialContext): AuthFileCandidate[] {
  const env = ctx.env ?? process.env;
  const home = ctx.home ?? env.HOME ?? homedir();
  const out: AuthFileCandidate[] = [];
  if (ctx.authfile) out.push({ path: ctx.authfile, source: `--authfile ${ctx.authfile}`, required: true });
  if (env.REGISTRY_AUTH_FILE) {
    out.push({
      path: env.REGISTRY_AUTH_FILE,
      source: `REGISTRY_AUTH_FILE (${env.REGISTRY_AUTH_FILE})`,
      required: false,
    });
  }
  if (env.XDG_RUNTIME_DIR) {
    const p = join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json');
    out.push({ path: p, source: p, required: false });
  }
  const user = join(home, '.config', 'containers', 'auth.json');
  out.push({ path: user, source: user, required: false });
  const docker = env.DOCKER_CONFIG
    ? join(env.DOCKER_CONFIG, 'config.json')
    : join(home, '.docker', 'config.json');
  out.push({ path: docker, source: docker, required: false });
  return out;
}

/** `https://index.docker.io/v1/` → `docker.io`; `quay.io/podman` stays. */
export function normalizeAuthKey(key: string): string {
  let k = key.replace(/^https?:\/\//, '');
  if (key !== k) k = k.split('/')[0]!; // legacy Docker keys carry a URL path (`/v1/`)
  k = k.replace(/\/+$/, '');
  const [host, ...path] = k.split('/');
  const h = host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host!;
  return [h, ...path].join('/');
}

/** Keys to look for, most specific first: `host/ns/repo`, `host/ns`, `host`. */
export function lookupKeys(registry: string, repository: string): string[] {
  const parts = repository.split('/');
  const keys: string[] = [];
  for (let i = parts.length; i >= 1; i--) keys.push(`${registry}/${parts.slice(0, i).join('/')}`);
  keys.push(registry);
  return keys;
}

function decodeEntry(entry: AuthEntry, source: string): Credential | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken, source };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      throw new OcipullError('UNAUTHORIZED', `the "auth" entry in ${source} is not base64 of USER:PASSWORD`);
    }
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password, source };
  return undefined;
}

async function readAuthFile(candidate: AuthFileCandidate): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(candidate.path, 'utf8');
  } catch (error) {
    if (!candidate.required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OcipullError(
      'CONFIG_LOAD_FAILED',
      `cannot read ${candidate.source}: ${(error as Error).message}`,
    );
  }
  try {
    const parsed = JSON.parse(text) as AuthFile;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch (error) {
    throw new OcipullError(
      'CONFIG_LOAD_FAILED',
      `${candidate.source} is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/** `--creds USER:PASS` → a credential. */
export function parseCreds(creds: string): Credential {
  const colon = creds.indexOf(':');
  if (colon <= 0) {
    throw new OcipullError('USAGE', '--creds must be USER:PASSWORD', {
      hint: 'e.g. --creds alice:secret (or use an auth file)',
    });
  }
  return { username: creds.slice(0, colon), password: creds.slice(colon + 1), source: '--creds' };
}

/**
 * Find credentials for `registry/repository`. Returns undefined (anonymous) when no source has
 * any; `tried` collects the names of the sources looked at, for error messages.
 */
export async function findCredential(
  registry: string,
  repository: string,
  ctx: CredentialContext,
  tried: string[] = [],
): Promise<Credential | undefined> {
  if (ctx.creds) {
    tried.push('--creds');
    return parseCreds(ctx.creds);
  }
  const keys = lookupKeys(registry, repository);
  for (const candidate of authFileCandidates(ctx)) {
    const file = await readAuthFile(candidate);
    if (!file) continue;
    tried.push(candidate.source);
    const auths = new Map<string, AuthEntry>();
    for (const [key, entry] of Object.entries(file.auths ?? {})) auths.set(normalizeAuthKey(key), entry);
    const helpers = new Map<string, string>();
    for (const [key, helper] of Object.entries(file.credHelpers ?? {}))
      helpers.set(normalizeAuthKey(key), helper);
    for (const key of keys) {
      const helper = helpers.get(key);
      if (helper) {
        const found = await runCredentialHelper(helper, key, ctx.env);
        if (found) return found;
      }
      const entry = auths.get(key);
      const decoded = entry && decodeEntry(entry, candidate.source);
      if (decoded) return decoded;
    }
    if (file.credsStore) {
      const serverUrl = registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
      const found = await runCredentialHelper(file.credsStore, serverUrl, ctx.env, true);
      if (found) return found;
    }
  }
  return undefined;
}
