/**
 * Hooks the registry plugin owns, kept beside (not on) the core's hooks:
 *   const hooks = getRegistryHooks(orchestrator);
 *   hooks.authenticate.tapPromise('my-vault', async ({ registry }) => ({ username, password, source: 'vault' }));
 *
 * - `authenticate` (AsyncSeriesBailHook): credentials for `registry/repository`, asked after
 *   `--creds` and before the auth files; the first tap that answers wins. Previous: resolve.
 * - `endpoints` (AsyncSeriesWaterfallHook): the ordered list of places (mirrors, then origin) a
 *   reference is pulled from; taps may reorder, add or drop entries. Previous: resolve.
 */

import type { Logger, Orchestrator } from 'ocipull';
import { AsyncSeriesBailHook, AsyncSeriesWaterfallHook } from 'tapable';
import type { Credential } from './auth/credentials.js';
import type { Endpoint } from './mirrors.js';
import type { RegistryReference } from './reference.js';

export interface AuthenticateRequest {
  /** Registry host as named in references (`docker.io`, `quay.io`, `127.0.0.1:5000`). */
  registry: string;
  repository: string;
  log: Logger;
}

export interface RegistryHooks {
  readonly authenticate: AsyncSeriesBailHook<[AuthenticateRequest], Credential | undefined>;
  readonly endpoints: AsyncSeriesWaterfallHook<[Endpoint[], RegistryReference]>;
}

const registry = new WeakMap<Orchestrator, RegistryHooks>();

export function getRegistryHooks(orchestrator: Orchestrator): RegistryHooks {
  let hooks = registry.get(orchestrator);
  if (!hooks) {
    hooks = Object.freeze({
      authenticate: new AsyncSeriesBailHook<[AuthenticateRequest], Credential | undefined>(['request']),
      endpoints: new AsyncSeriesWaterfallHook<[Endpoint[], RegistryReference]>(['endpoints', 'reference']),
    });
    registry.set(orchestrator, hooks);
  }
  return hooks;
}
