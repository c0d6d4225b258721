import { addAbortSignal, Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  type FetchRequest,
  type FetchResponse,
  type LayoutFile,
  layoutBlobPath,
  OcipullError,
  openLayoutFile,
} from 'ocipull';
import { LayoutSource } from './source.js';

/**
 * Open `blobs/<alg>/<hex>` from `offset` on. The core verifies digest and size as the bytes flow;
 * a file whose length differs from its descriptor is refused here already (SIZE_MISMATCH), since
 * a short local file would otherwise look like a truncated download worth retrying.
 */
export async function fetchBlob(request: FetchRequest): Promise<FetchResponse | undefined> {
  const { source, descriptor, offset } = request;
  if (!(source instanceof LayoutSource)) return undefined;
  const memory = source.synthetic.get(descriptor.digest);
  if (memory) {
    return { body: Readable.from([memory.subarray(offset)]), offset, total: memory.length };
  }
  const path = layoutBlobPath(source.dir, descriptor.digest);
  let file: LayoutFile;
  try {
    file = await openLayoutFile(source.dir, path, `blob ${descriptor.digest}:`);
  } catch (error) {
    if (error instanceof OcipullError) throw error;
    const code = (error as { code?: string }).code;
    throw new OcipullError(
      'BLOB_NOT_FOUND',
      code === 'ENOENT'
        ? `layout ${source.dir} has no blob ${descriptor.digest} (expected at ${path})`
        : `cannot open blob ${descriptor.digest} of layout ${source.dir}: ${(error as Error).message}`,
      { hint: 'the layout is incomplete: copy it again (skopeo copy, ocipull pack)', cause: error },
    );
  }
  const { handle, size } = file;
  if (size !== descriptor.size) {
    await handle.close();
    throw new OcipullError(
      'SIZE_MISMATCH',
      `blob ${descriptor.digest} of layout ${source.dir} is ${size} bytes, but its descriptor says ${descriptor.size}`,
      { data: { digest: descriptor.digest, expectedSize: descriptor.size, receivedSize: size } },
    );
  }
  if (offset >= size) {
    await handle.close();
    return { body: Readable.from([]), offset, total: size, url: pathToFileURL(path).href };
  }
  // addAbortSignal drops its listener when the stream ends, so long runs do not pile them up.
  const body = addAbortSignal(
    request.signal,
    // `end`: no more than the size checked above, even if the file grows while it is read.
    handle.createReadStream({ start: offset, end: size - 1, highWaterMark: 1 << 20 }),
  );
  return { body, offset, total: size, url: pathToFileURL(path).href };
}
