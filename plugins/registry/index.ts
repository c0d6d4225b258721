/**
 * ocipull-plugin-registry: the `docker://` transport (OCI distribution API on undici).
 * Taps `resolve.for('docker')` and `fetch.for('docker')`; owns the `authenticate` and
 * `endpoints` hooks (see hooks.ts). Options: { retries, timeoutMs, connectTimeoutMs, certDirs },
 * overridden per run by `transports.docker` in the config.
 */
import type { Orchestrator, Plugin } from 'ocipull';
import { withPush } from './push.js';
import { type RegistrySettings, resolveDocker } from './resolve.js';
import { RegistrySource } from './source.js';

const PLUGIN_NAME = 'ocipull-plugin-registry';

export { type Challenge, parseWwwAuthenticate } from './auth/challenge.js';
export { type Credential, findCredential } from './auth/credentials.js';
export { RegistryClient } from './client.js';
export { type AuthenticateRequest, getRegistryHooks, type RegistryHooks } from './hooks.js';
export { formatReference, parseReference, type RegistryReference, withDefaultTag } from './reference.js';
export type { RegistrySettings } from './resolve.js';
export { RegistrySource } from './source.js';

export default class RegistryPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly settings: RegistrySettings;

  constructor(options: Record<string, unknown> = {}) {
    this.settings = options as RegistrySettings;
  }

  apply(orchestrator: Orchestrator): void {
    orchestrator.hooks.resolve.for('docker').tapPromise(PLUGIN_NAME, async (request) => {
      const source = await resolveDocker(orchestrator, this.settings, request);
      return request.purpose === 'push' ? withPush(source, request.log) : source;
    });
    orchestrator.hooks.fetch.for('docker').tapPromise(PLUGIN_NAME, async (request) => {
      if (!(request.source instanceof RegistrySource)) return undefined;
      return request.source.fetch(
        request.descriptor,
        request.offset,
        request.ifRange,
        request.signal,
        request.log,
        request.length,
      );
    });
  }
}
