import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { OcipullError, peek } from 'ocipull';
import tar from 'tar-stream';
import { samePath } from './format.js';

export interface ExtractRequest {
  /** The layer's bytes (verified by the core while they flow): a tar, maybe gzip-compressed. */
  input: Readable;
  /** The path inside the tar (`/unikraft/bin/kernel`); also accepted without `/` or with `./`. */
  path: string;
  /** Where the file lands (created, never overwritten). */
  target: string;
  /** For messages: `kernel layer sha256:...`. */
  what: string;
  signal: AbortSignal;
}

const KINDS_SKIPPED = new Set(['directory', 'pax-header', 'pax-global-header', 'gnu-long-path-header']);

/**
 * Take one file out of a package layer's tar and write it to `target`. Directory entries are
 * skipped; any other entry than the file named is KERNEL_PACKAGE_INVALID, as is a tar without it.
 */
export async function extractFile(request: ExtractRequest): Promise<number> {
  const { head, stream } = await peek(request.input, 2);
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const extract = tar.extract();
  let written = -1;
  const invalid = (message: string) =>
    new OcipullError('KERNEL_PACKAGE_INVALID', `${request.what}: ${message}`, {
      hint: `the layer should be a tar holding the regular file ${request.path}`,
    });
  extract.on('entry', (header, entry, next) => {
    const done = (error?: unknown) => (error ? extract.destroy(error as Error) : next());
    // Destroying the extractor destroys the entry too; the failure travels through the pipeline.
    entry.on('error', () => {});
    if (KINDS_SKIPPED.has(header.type ?? 'file')) {
      entry.resume();
      entry.on('end', () => done());
      return;
    }
    const name = JSON.stringify(header.name.slice(0, 200));
    if (!samePath(header.name, request.path)) {
      entry.resume();
      done(invalid(`holds ${name}, which is not ${request.path}`));
      return;
    }
    if (header.type !== 'file' && header.type !== 'contiguous-file') {
      entry.resume();
      done(invalid(`${name} is a ${header.type}, not a regular file`));
      return;
    }
    if (written >= 0) {
      entry.resume();
      done(invalid(`holds ${name} twice`));
      return;
    }
    fsp
      .open(request.target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644)
      .then(async (handle) => {
        try {
          written = await copyEntry(entry as unknown as NodeJS.ReadableStream, handle);
          await handle.sync();
        } finally {
          await handle.close();
        }
      })
      .then(
        () => done(),
        (error) => {
          entry.resume();
          done(error);
        },
      );
  });
  try {
    if (gzip) await pipeline(stream, createGunzip(), extract, { signal: request.signal });
    else await pipeline(stream, extract, { signal: request.signal });
  } catch (error) {
    if (error instanceof OcipullError || request.signal.aborted) throw error;
    throw new OcipullError(
      'KERNEL_PACKAGE_INVALID',
      `${request.what}: not a readable tar: ${(error as Error).message}`,
      {
        hint: `the layer should be a tar holding the regular file ${request.path}`,
        cause: error,
      },
    );
  }
  if (written < 0) throw invalid(`holds no ${request.path}`);
  return written;
}

/**
 * Write a tar entry's bytes to an open file. Forwarded by hand: node's pipeline does not see the
 * end of tar-stream's (streamx) entry streams.
 */
function copyEntry(entry: NodeJS.ReadableStream, handle: fsp.FileHandle): Promise<number> {
  return new Promise((resolve, reject) => {
    let position = 0;
    let chain = Promise.resolve();
    entry.on('data', (chunk: Buffer) => {
      entry.pause();
      chain = chain
        .then(async () => {
          await handle.write(chunk, 0, chunk.length, position);
          position += chunk.length;
          entry.resume();
        })
        .catch(reject);
    });
    entry.on('end', () => chain.then(() => resolve(position), reject));
    entry.on('error', reject);
  });
}

/** `staging/<name>`, for a file of a `files` output. */
export function stagedFile(staging: string, name: string): string {
  return join(staging, name);
}
