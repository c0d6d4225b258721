/**
 * The write side of an OCI image layout: content-addressed blobs written to a temp name and renamed
 * only once their digest verified, and `index.json` replaced atomically under a lock so that
 * concurrent writers (two processes adding tags) never lose each other's entries.
 */
import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import lockfile from 'proper-lockfile';
import { OcipullError } from '../errors/errors.js';
import { createDigester, DigestVerifier, digestOf, parseDigest } from '../oci/digest.js';
import { MAX_DOCUMENT_BYTES } from '../oci/documents.js';
import { Annotations, MediaTypes } from '../oci/media-types.js';
import type { Descriptor, ImageIndex } from '../types.js';
import { readLayoutFile } from './files.js';
import { createExclusive, renameReplacing, tempName } from './portable.js';
import {
  checkLayoutVersion,
  checkTag,
  INDEX_FILE,
  LAYOUT_FILE,
  LAYOUT_VERSION,
  layoutBlobPath,
  readLayoutIndex,
  refName,
} from './read.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await fsp.access(path);
    return true;
  } catch {
    return false;
  }
}

/** Write `bytes` to `path` through a synced temp file and a rename (readers never see half a file). */
async function writeAtomic(path: string, bytes: Buffer, exclusive = false): Promise<boolean> {
  const temp = tempName(path);
  const handle = await fsp.open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (!exclusive) {
      await renameReplacing(temp, path);
      return true;
    }
    return await createExclusive(temp, path);
  } finally {
    if (exclusive) await fsp.rm(temp, { force: true });
  }
}

function storeError(dir: string, action: string, error: unknown): OcipullError {
  if (error instanceof OcipullError) return error;
  return new OcipullError('OUTPUT_FAILED', `cannot ${action} in layout ${dir}: ${(error as Error).message}`, {
    cause: error,
  });
}

export class LayoutStore {
  private constructor(readonly dir: string) {}

  /** Create the layout (directories, `oci-layout`, an empty `index.json`) or open it if it exists. */
  static async init(dir: string): Promise<LayoutStore> {
    try {
      await fsp.mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
      await writeAtomic(
        join(dir, LAYOUT_FILE),
        Buffer.from(JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })),
        true,
      );
      const empty: ImageIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
      await writeAtomic(join(dir, INDEX_FILE), Buffer.from(JSON.stringify(empty)), true);
    } catch (error) {
      throw storeError(dir, 'create the layout', error);
    }
    return LayoutStore.open(dir);
  }

  /** Open an existing layout (checks `oci-layout` and `index.json`). */
  static async open(dir: string): Promise<LayoutStore> {
    await checkLayoutVersion(dir);
    await readLayoutIndex(dir);
    return new LayoutStore(dir);
  }

  blobPath(digest: string): string {
    return layoutBlobPath(this.dir, digest);
  }

  hasBlob(digest: string): Promise<boolean> {
    return exists(this.blobPath(digest));
  }

  /**
   * Store a blob. It is streamed to a temp name under `blobs/<alg>/`, hashed while written, and
   * renamed only when complete (and, given `expected`, only when digest and size match:
   * DIGEST_MISMATCH / SIZE_MISMATCH otherwise, and nothing is kept). A blob already present is a no-op.
   */
  async putBlob(input: Readable | Uint8Array, expected?: BlobInfo): Promise<BlobInfo> {
    if (expected && (await this.hasBlob(expected.digest))) {
      if (!(input instanceof Uint8Array)) input.destroy();
      return { digest: expected.digest, size: expected.size };
    }
    const algorithm = expected ? parseDigest(expected.digest).algorithm : 'sha256';
    const folder = join(this.dir, 'blobs', algorithm);
    await fsp.mkdir(folder, { recursive: true });
    const temp = tempName(join(folder, 'blob'));
    const verifier = expected ? new DigestVerifier(expected, `blob ${expected.digest}`) : undefined;
    const hash = createDigester(algorithm);
    let size = 0;
    let handle: fsp.FileHandle | undefined;
    try {
      handle = await fsp.open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
      const chunks: AsyncIterable<Uint8Array> | Uint8Array[] = input instanceof Uint8Array ? [input] : input;
      for await (const chunk of chunks) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        verifier?.update(buf);
        hash.update(buf);
        size += buf.length;
        await handle.write(buf);
      }
      const digest = verifier ? verifier.finish() : `${algorithm}:${hash.digest('hex')}`;
      await handle.sync();
      await handle.close();
      handle = undefined;
      const final = this.blobPath(digest);
      if (await exists(final)) await fsp.rm(temp, { force: true });
      else await renameReplacing(temp, final);
      return { digest, size };
    } catch (error) {
      if (!(input instanceof Uint8Array)) input.destroy();
      await handle?.close().catch(() => {});
      await fsp.rm(temp, { force: true });
      throw storeError(this.dir, 'write a blob', error);
    }
  }

  /** Store a JSON document (manifest, index, config) and return its descriptor. */
  async putJson(document: unknown, mediaType: string): Promise<Descriptor> {
    const bytes = Buffer.from(JSON.stringify(document));
    const descriptor: Descriptor = { mediaType, digest: digestOf(bytes), size: bytes.length };
    await this.putBlob(bytes, descriptor);
    return descriptor;
  }

  /** Read a whole blob (a document: at most MAX_DOCUMENT_BYTES, MANIFEST_TOO_LARGE past it). */
  async readBlob(digest: string): Promise<Buffer> {
    const path = this.blobPath(digest);
    try {
      return await readLayoutFile(this.dir, path, `blob ${digest}:`, MAX_DOCUMENT_BYTES, (size) => {
        return new OcipullError(
          'MANIFEST_TOO_LARGE',
          `blob ${digest} of layout ${this.dir} is ${size} bytes, over the ${MAX_DOCUMENT_BYTES}-byte limit`,
        );
      });
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') {
        throw new OcipullError('BLOB_NOT_FOUND', `layout ${this.dir} has no blob ${digest}`);
      }
      throw error;
    }
  }

  async readIndex(): Promise<ImageIndex> {
    return (await readLayoutIndex(this.dir)).index;
  }

  /**
   * Read-modify-write `index.json` under an exclusive lock (`index.json.lock`), replacing it with a
   * synced temp file and a rename. `update` returns the new index (or mutates and returns nothing).
   */
  async updateIndex(update: (index: ImageIndex) => ImageIndex | undefined): Promise<ImageIndex> {
    let release: (() => Promise<void>) | undefined;
    try {
      release = await lockfile.lock(join(this.dir, INDEX_FILE), {
        realpath: false,
        lockfilePath: join(this.dir, `${INDEX_FILE}.lock`),
        stale: 10_000,
        retries: { retries: 200, factor: 1.2, minTimeout: 10, maxTimeout: 250, randomize: true },
      });
      const current = await this.readIndex();
      const next = update(current) ?? current;
      await writeAtomic(join(this.dir, INDEX_FILE), Buffer.from(JSON.stringify(next)));
      return next;
    } catch (error) {
      throw storeError(this.dir, 'update index.json', error);
    } finally {
      await release?.();
    }
  }

  /** Replace the whole top-level index. */
  setIndex(index: ImageIndex): Promise<ImageIndex> {
    return this.updateIndex(() => index);
  }

  /**
   * List a manifest or index in `index.json`. With `tag`, it gets the ref.name annotation and
   * replaces whatever held that tag before; without, it is added once (by digest).
   */
  async addManifest(descriptor: Descriptor, options: { tag?: string } = {}): Promise<ImageIndex> {
    const tag = options.tag === undefined ? undefined : checkTag(options.tag);
    return this.updateIndex((index) => {
      if (tag === undefined) {
        if (!index.manifests.some((m) => m.digest === descriptor.digest && refName(m) === undefined)) {
          index.manifests.push(descriptor);
        }
        return index;
      }
      index.manifests = index.manifests.filter((m) => refName(m) !== tag);
      index.manifests.push({
        ...descriptor,
        annotations: { ...descriptor.annotations, [Annotations.refName]: tag },
      });
      return index;
    });
  }
}
