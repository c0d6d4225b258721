/**
 * ocipull-plugin-registry: the `docker://` transport (OCI distribution API on undici).
 * Taps `resolve.for('docker')` and `fetch.for('docker')`; owns the `authenticate` and
 * `endpoints` hooks (see hooks.ts). Options: { retries, timeoutMs, connectTimeoutMs, certDirs },
 * overridden per run by `transports.docker` in the config.
 */
import type { Orchestrator, Plugin } from 'ocipull';
import type { RegistrySettings } from './resolve.js';

const PLUGIN_NAME = 'ocipull-plugin-registry';

export { type Challenge, parseWwwAuthenticate } from './auth/challenge.js';
export { type Credential, findCredential } from './auth/credentials.js';
export { type AuthenticateRequest, getRegistryHooks, type RegistryHooks } from './hooks.js';
export { formatReference, parseReference, type RegistryReference, withDefaultTag } from './reference.js';
export type { RegistrySettings } from './resolve.js';
// The transport itself (HTTP client, auth, undici) loads on the first docker:// source, so a run
// that reads only layouts never parses it. RegistryClient and RegistrySource: './api.js'.

export default class RegistryPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly settings: RegistrySettings;

  constructor(options: Record<string, unknown> = {}) {
    this.settings = options as RegistrySettings;
  }

  apply(orchestrator: Orchestrator): void {
    orchestrator.hooks.resolve.for('docker').tapPromise(PLUGIN_NAME, async (request) => {
      const [{ resolveDocker }, { withPush }] = await Promise.all([
        import('./resolve.js'),
        import('./push.js'),
      ]);
      const source = await resolveDocker(orchestrator, this.settings, request);
      return request.purpose === 'push' ? withPush(source, request.log) : source;
    });
    orchestrator.hooks.fetch.for('docker').tapPromise(PLUGIN_NAME, async (request) => {
      const { RegistrySource } = await import('./source.js');
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
