/**
 * `resolve.for('docker')`: parse the reference, work out the endpoints (mirrors, origin), then
 * fetch the root manifest from the first endpoint that has it, so "not found" surfaces at once.
 */
import { isOcipullError, OcipullError, type Orchestrator, type ResolveRequest } from 'ocipull';
import { findCredential, parseCreds } from './auth/credentials.js';
import type { CredentialLookup } from './auth/session.js';
import { RegistryClient } from './client.js';
import { getRegistryHooks } from './hooks.js';
import { DEFAULT_TIMEOUTS, HttpClient, type Timeouts } from './http.js';
import { DEFAULT_LOW_SPEED } from './low-speed.js';
import { getManifest } from './manifests.js';
import { endpointsFor, loadRegistriesConfFiles, registriesConfFiles } from './mirrors.js';
import { apiHost, formatReference, manifestReference, parseReference, withDefaultTag } from './reference.js';
import { defaultRetryPolicy } from './retry.js';
import { type ActiveEndpoint, RegistrySource } from './source.js';
import { TlsPolicy } from './tls.js';

/** Tunables from the plugin's options, overridden by `transports.docker` in config. */
export interface RegistrySettings {
  /** Retries per request (connection errors, 408, 429, 5xx). */
  retries?: number;
  /** Longest pause between body chunks, and wait for response headers, in ms. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /** certs.d directories to read instead of the usual ones. */
  certDirs?: string[];
  /** curl's low-speed rule: a body slower than this many bytes/s for lowSpeedTime fails (0: off). */
  lowSpeedLimit?: number;
  /** Seconds the rate may stay below lowSpeedLimit. */
  lowSpeedTime?: number;
  /** Longest Retry-After waited for, in ms; a longer one fails the run at once. */
  maxRetryAfterMs?: number;
}

function number(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

export async function resolveDocker(
  orchestrator: Orchestrator,
  defaults: RegistrySettings,
  request: ResolveRequest,
): Promise<RegistrySource> {
  const { options, log, signal } = request;
  const parsed = parseReference(request.ref.rest);
  const ref = request.purpose === 'push' ? parsed : withDefaultTag(parsed, options.defaultTag);
  const settings: RegistrySettings = {
    ...defaults,
    ...((options.settings?.docker ?? {}) as RegistrySettings),
  };
  const hooks = getRegistryHooks(orchestrator);

  const named = typeof options.registriesConf === 'string' || Boolean(process.env.CONTAINERS_REGISTRIES_CONF);
  const conf = await loadRegistriesConfFiles(
    registriesConfFiles(options.registriesConf),
    named ? undefined : (error) => request.log.warn(`${(error as Error).message}; ignoring that file`),
  );
  const endpoints = await hooks.endpoints.promise(endpointsFor(ref, options.mirrors, conf), ref);
  const tls = new TlsPolicy({
    tlsVerify: options.tlsVerify,
    insecureRegistries: options.insecureRegistries,
    certDirs: settings.certDirs,
    certDir: options.certDir,
  });
  for (const e of endpoints) if (e.insecure) tls.addInsecure(apiHost(e.registry));
  const timeouts: Timeouts = {
    connectMs: number(settings.connectTimeoutMs) ?? DEFAULT_TIMEOUTS.connectMs,
    headersMs: number(settings.timeoutMs) ?? DEFAULT_TIMEOUTS.headersMs,
    bodyMs: number(settings.timeoutMs) ?? DEFAULT_TIMEOUTS.bodyMs,
  };
  const retryAfterCap = number(settings.maxRetryAfterMs);
  const http = new HttpClient(
    tls,
    defaultRetryPolicy({
      ...(number(settings.retries) !== undefined ? { retries: settings.retries } : {}),
      ...(retryAfterCap !== undefined ? { maxRetryAfterMs: retryAfterCap } : {}),
    }),
    timeouts,
    {
      limit: number(settings.lowSpeedLimit) ?? DEFAULT_LOW_SPEED.limit,
      timeMs: (number(settings.lowSpeedTime) ?? DEFAULT_LOW_SPEED.timeMs / 1000) * 1000,
    },
  );

  const lookupFor =
    (registry: string): CredentialLookup =>
    async (repository, tried) => {
      if (options.creds) {
        tried.push('--creds');
        return parseCreds(options.creds);
      }
      if (hooks.authenticate.isUsed()) {
        tried.push('authenticate hook');
        const found = await hooks.authenticate.promise({ registry, repository, log });
        if (found) return found;
      }
      return findCredential(registry, repository, { authfile: options.authfile }, tried);
    };
  const active: ActiveEndpoint[] = endpoints.map((e) => ({
    client: new RegistryClient(apiHost(e.registry), http, lookupFor(e.registry)),
    repository: e.repository,
    mirror: e.mirror,
  }));

  if (request.purpose === 'push')
    return new RegistrySource(
      ref,
      active.filter((e) => !e.mirror),
      http,
    );
  if (options.offline) {
    await http.close();
    throw new OcipullError(
      'OFFLINE',
      `--offline: cannot resolve docker://${formatReference(ref)} without the network`,
    );
  }
  const wanted = manifestReference(ref);
  let firstMirrorError: unknown;
  for (const [i, endpoint] of active.entries()) {
    try {
      const fetched = await getManifest(endpoint.client, endpoint.repository, wanted, { signal, log });
      log.debug(
        `resolved docker://${formatReference(ref)} to ${fetched.descriptor.digest} at ${endpoint.client.host}`,
      );
      const ordered = [endpoint, ...active.filter((_, j) => j !== i)];
      return new RegistrySource(ref, ordered, http, fetched.descriptor, fetched.bytes);
    } catch (error) {
      if (signal.aborted) {
        await http.close();
        throw error;
      }
      if (endpoint.mirror) {
        firstMirrorError ??= error;
        log.info(
          `mirror ${endpoint.client.host} failed for ${wanted}: ${(error as Error).message}; trying the next`,
        );
        continue;
      }
      const reported = isOcipullError(error, 'TAG_NOT_FOUND')
        ? await explainMissingTag(error, new RegistrySource(ref, [endpoint], http), signal)
        : error;
      await http.close();
      throw reported;
    }
  }
  await http.close();
  throw firstMirrorError ?? new OcipullError('INTERNAL', 'no registry endpoint to try');
}

/**
 * A tag is missing: list the tags that exist in the hint. Registries (distribution 2.x) answer
 * MANIFEST_UNKNOWN for a missing repository too; the tag listing's NAME_UNKNOWN tells them apart.
 */
async function explainMissingTag(
  error: OcipullError,
  source: RegistrySource,
  signal: AbortSignal,
): Promise<unknown> {
  try {
    const tags = await source.listTags(signal);
    const shown = tags.slice(-20);
    error.hint = tags.length
      ? `existing tags${tags.length > shown.length ? ` (last ${shown.length} of ${tags.length})` : ''}: ${shown.join(', ')}`
      : 'the repository has no tags';
  } catch (listing) {
    if (isOcipullError(listing, 'NAME_UNKNOWN')) {
      return new OcipullError(
        'NAME_UNKNOWN',
        `${source.ref.registry}/${source.ref.repository}: ${listing.message}`,
        {
          hint: 'check the repository name',
          cause: error,
          data: listing.data,
        },
      );
    }
    // listing is a courtesy: the not-found error stands on its own
  }
  return error;
}
