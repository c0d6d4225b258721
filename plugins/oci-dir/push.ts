/**
 * The push capability of an `oci-dir:` destination: the layout is created when missing, blobs
 * go through the LayoutStore (verified, atomic), a staged blob already inside the layout is
 * renamed into place, manifests are stored as blobs, and a tagged push replaces whatever held
 * that tag in `index.json` (so the tag moves only once everything it points at is stored).
 */
import { promises as fsp } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import {
  Annotations,
  type BlobBody,
  type Descriptor,
  type Destination,
  digestOf,
  isDigest,
  LayoutStore,
  MediaTypes,
  OcipullError,
  readLayoutIndex,
  refName,
  renameReplacing,
  type TaggedDocument,
} from 'ocipull';
import type { LayoutSource } from './source.js';

async function exists(path: string): Promise<boolean> {
  return fsp.access(path).then(
    () => true,
    () => false,
  );
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** Give a push-resolved LayoutSource the Destination capability. */
export function withPush(source: LayoutSource): LayoutSource & Destination {
  if (/@[a-z0-9]+:[a-f0-9]+$/.test(source.reference)) {
    throw new OcipullError(
      'REFERENCE_INVALID',
      `${source.reference}: a destination names a tag, not a digest`,
      {
        hint: `oci-dir:${source.dir}:TAG`,
      },
    );
  }
  let opened: Promise<LayoutStore> | undefined;
  const store = () => {
    opened ??= LayoutStore.init(source.dir).catch((error: unknown) => {
      opened = undefined;
      throw error;
    });
    return opened;
  };

  async function adopt(descriptor: Descriptor, body: BlobBody, layout: LayoutStore): Promise<boolean> {
    if (!body.path || !body.disposable || !inside(source.dir, body.path)) return false;
    const { size } = await fsp.stat(body.path);
    if (size !== descriptor.size) {
      throw new OcipullError(
        'SIZE_MISMATCH',
        `staged blob ${descriptor.digest} is ${size} bytes, not ${descriptor.size}`,
      );
    }
    await renameReplacing(body.path, layout.blobPath(descriptor.digest));
    return true;
  }

  const destination: Destination = {
    tag: source.tag,

    async hasBlob(descriptor) {
      if (!(await exists(join(source.dir, 'oci-layout')))) return false;
      return (await store()).hasBlob(descriptor.digest);
    },

    async pushBlob(descriptor, body) {
      const layout = await store();
      if (await adopt(descriptor, body, layout)) return;
      await layout.putBlob(await body.open(0), { digest: descriptor.digest, size: descriptor.size });
    },

    async pushManifest(bytes, mediaType, reference, _signal, entry) {
      const layout = await store();
      const descriptor: Descriptor = { mediaType, digest: digestOf(bytes), size: bytes.length };
      await layout.putBlob(bytes, descriptor);
      if (reference !== undefined && !isDigest(reference)) {
        // index.json's entry keeps the source entry's platform and annotations (selection reads them).
        const listed: Descriptor = { ...descriptor };
        if (entry?.platform) listed.platform = entry.platform;
        if (entry?.annotations) {
          const { [Annotations.refName]: _tag, ...rest } = entry.annotations;
          if (Object.keys(rest).length > 0) listed.annotations = rest;
        }
        await layout.addManifest(listed, { tag: reference });
      }
      return descriptor;
    },

    async readTag(tag): Promise<TaggedDocument | undefined> {
      if (!(await exists(join(source.dir, 'oci-layout')))) return undefined;
      const layout = await store();
      const { index } = await readLayoutIndex(source.dir);
      const entries = index.manifests.filter((m) => refName(m) === tag);
      if (entries.length === 0) return undefined;
      if (entries.length === 1) {
        const descriptor = entries[0]!;
        return { descriptor, bytes: await layout.readBlob(descriptor.digest) };
      }
      // The flat form: several entries carry the tag; seen together they are one index.
      const manifests = entries.map((e) => {
        const { [Annotations.refName]: _tag, ...rest } = e.annotations ?? {};
        return Object.keys(rest).length ? { ...e, annotations: rest } : { ...e, annotations: undefined };
      });
      const bytes = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }),
      );
      return {
        descriptor: { mediaType: MediaTypes.ociIndex, digest: digestOf(bytes), size: bytes.length },
        bytes,
      };
    },

    async stagingDir() {
      return join((await store()).dir, 'blobs', 'sha256');
    },
  };
  return Object.assign(source, destination);
}
