/**
 * The push capability of a `docker://` destination (resolved with `purpose: 'push'`): blobs
 * checked with `HEAD`, mounted across repositories of the same registry, uploaded (upload.ts);
 * manifests `PUT` with their media type as Content-Type, by digest or under the tag; the tag's
 * current document read for merges. All requests ask for the `repository:NAME:pull,push` scope.
 */
import {
  type Descriptor,
  type Destination,
  digestOf,
  isOcipullError,
  type Logger,
  OcipullError,
  type TaggedDocument,
} from 'ocipull';
import { discard } from './http.js';
import { getManifest } from './manifests.js';
import { RegistrySource } from './source.js';
import { mountBlob, type PushContext, pushError, uploadBlob } from './upload.js';

const silent: Logger = { level: 'silent', error() {}, warn() {}, info() {}, debug() {}, redact() {} };

/** Give a push-resolved RegistrySource the Destination capability. */
export function withPush(source: RegistrySource, log: Logger = silent): RegistrySource & Destination {
  const endpoint = source.endpoints[0];
  if (!endpoint) throw new OcipullError('INTERNAL', `${source.reference}: no endpoint to push to`);
  if (source.ref.digest !== undefined && source.ref.tag === undefined) {
    throw new OcipullError(
      'REFERENCE_INVALID',
      `${source.reference}: a destination names a tag, not a digest`,
      {
        hint: `docker://${source.ref.registry}/${source.ref.repository}:TAG`,
      },
    );
  }
  const { client, repository } = endpoint;
  const ctx = (signal: AbortSignal): PushContext => ({ client, repository, signal, log });

  const destination: Destination = {
    tag: source.ref.tag,

    async hasBlob(descriptor, signal) {
      const what = `blob ${client.host}/${repository}@${descriptor.digest}`;
      const response = await client.request(repository, `/v2/${repository}/blobs/${descriptor.digest}`, {
        method: 'HEAD',
        actions: 'pull,push',
        what,
        signal,
        log,
      });
      await discard(response);
      if (response.status === 200) return true;
      if (response.status === 404) return false;
      throw await pushError(ctx(signal), response, `HEAD ${what}`);
    },

    async pushBlob(descriptor, body, signal) {
      await uploadBlob(ctx(signal), descriptor, await body.open(0));
    },

    async mountBlob(descriptor, from, signal) {
      if (!(from instanceof RegistrySource)) return false;
      const origin = from.endpoints[0];
      if (!origin || origin.client.host !== client.host || origin.repository === repository) return false;
      return mountBlob(ctx(signal), descriptor, origin.repository);
    },

    // A registry keeps no index entry for a tagged manifest: `entry` (platform, annotations) has nowhere to go.
    async pushManifest(bytes, mediaType, reference, signal): Promise<Descriptor> {
      const digest = digestOf(bytes);
      const ref = reference ?? digest;
      const what = `manifest ${client.host}/${repository}${ref.includes(':') ? '@' : ':'}${ref}`;
      const response = await client.request(repository, `/v2/${repository}/manifests/${ref}`, {
        method: 'PUT',
        headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
        body: bytes,
        actions: 'pull,push',
        what: `PUT ${what}`,
        signal,
        log,
      });
      if (response.status !== 201 && response.status !== 200)
        throw await pushError(ctx(signal), response, `PUT ${what}`);
      await discard(response);
      const stored = response.headers['docker-content-digest'];
      if (typeof stored === 'string' && stored !== digest) {
        throw new OcipullError(
          'DIGEST_MISMATCH',
          `PUT ${what}: the registry stored ${stored}, not ${digest}`,
        );
      }
      return { mediaType, digest, size: bytes.length };
    },

    async readTag(tag, signal): Promise<TaggedDocument | undefined> {
      try {
        const fetched = await getManifest(client, repository, tag, { signal, log, actions: 'pull,push' });
        return { descriptor: fetched.descriptor, bytes: fetched.bytes };
      } catch (error) {
        if (
          isOcipullError(error) &&
          ['TAG_NOT_FOUND', 'NAME_UNKNOWN', 'MANIFEST_NOT_FOUND'].includes(error.code)
        )
          return undefined;
        if (isOcipullError(error) && (error.code === 'UNAUTHORIZED' || error.code === 'DENIED'))
          error.hint = `${error.hint ?? ''}; pushing needs push access (scope repository:${repository}:pull,push)`;
        throw error;
      }
    },
  };
  return Object.assign(source, destination);
}
