import { callKeyed } from '../dispatch.js';
import { OcipullError } from '../errors/errors.js';
import { verifyBytes } from '../oci/digest.js';
import { MAX_DOCUMENT_BYTES, parseDocument } from '../oci/documents.js';
import type { Orchestrator } from '../orchestrator.js';
import { didYouMean } from '../suggest.js';
import type { Descriptor, LoadedDocument, Source, SourceRef, TransportOptions } from '../types.js';
import { pauseAt } from './pause.js';

/** Split `scheme:rest`. A bare path or name is not guessed at: the scheme is required. */
export function parseSourceRef(raw: string): SourceRef {
  if (/[\u0000-\u001f\u007f]/.test(raw)) {
    throw new OcipullError(
      'REFERENCE_INVALID',
      `reference ${JSON.stringify(raw)} contains control characters`,
    );
  }
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/s.exec(raw);
  if (!match || match[2] === '') {
    throw new OcipullError(
      'REFERENCE_INVALID',
      `${JSON.stringify(raw)} is not a TRANSPORT:REFERENCE source`,
      {
        hint: 'e.g. docker://quay.io/podman/machine-os:5.5, oci-dir:./layout:latest, oci:./layout',
      },
    );
  }
  return { raw, scheme: match[1]!, rest: match[2]! };
}

export async function openSource(
  orchestrator: Orchestrator,
  raw: string,
  options: { purpose: 'pull' | 'push'; transport?: TransportOptions; signal?: AbortSignal },
): Promise<Source> {
  const ref = parseSourceRef(raw);
  const signal = options.signal ?? new AbortController().signal;
  const request = {
    ref,
    options: options.transport ?? orchestrator.settings.transport,
    purpose: options.purpose,
    signal,
    log: orchestrator.log,
  };
  const source = await callKeyed(orchestrator.hooks.resolve, ref.scheme, request, () => {
    const known = orchestrator.transportSchemes();
    // A typo of a configured scheme (`dokcer://`) is named as one, spelt as the user wrote it.
    const guess = didYouMean(ref.scheme, known);
    const spelt = guess && `${guess}${ref.rest.startsWith('//') ? '://' : ':'}`;
    const message = guess
      ? `unknown transport ${ref.scheme}: did you mean ${spelt}? (no transport plugin handles "${ref.scheme}:" sources)`
      : `no transport plugin handles "${ref.scheme}:" sources`;
    return new OcipullError('NO_TRANSPORT', message, {
      hint: `${known.length ? `configured transports: ${known.map((s) => `${s}:`).join(', ')}; ` : ''}install ocipull-plugin-${ref.scheme} and list it under "plugins" in your config`,
      data: {
        scheme: ref.scheme,
        plugin: `ocipull-plugin-${ref.scheme}`,
        ...(guess ? { didYouMean: guess } : {}),
      },
    });
  });
  return source;
}

/** Read a whole (small) stream, refusing more than `limit` bytes. */
export async function readAll(
  stream: AsyncIterable<Uint8Array>,
  limit: number,
  what: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > limit) {
      throw new OcipullError('MANIFEST_TOO_LARGE', `${what} is over the ${limit}-byte limit`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** Fetch raw bytes of a small descriptor (inline `data` is used as is), verified. */
export async function fetchSmall(
  orchestrator: Orchestrator,
  source: Source,
  descriptor: Descriptor,
  signal?: AbortSignal,
): Promise<Buffer> {
  if (descriptor.size > MAX_DOCUMENT_BYTES) {
    throw new OcipullError(
      'MANIFEST_TOO_LARGE',
      `${descriptor.digest} declares ${descriptor.size} bytes, over the ${MAX_DOCUMENT_BYTES}-byte limit`,
    );
  }
  let bytes: Buffer;
  if (descriptor.data !== undefined) {
    bytes = Buffer.from(descriptor.data, 'base64');
  } else {
    const response = await orchestrator.fetchRaw(source, descriptor, 0, signal);
    await pauseAt('manifest');
    bytes = await readAll(response.body, MAX_DOCUMENT_BYTES, descriptor.digest);
  }
  verifyBytes(bytes, descriptor, descriptor.digest);
  return bytes;
}

/** Fetch, verify and parse an index or manifest. */
export async function loadDocument(
  orchestrator: Orchestrator,
  source: Source,
  descriptor: Descriptor,
  signal?: AbortSignal,
): Promise<LoadedDocument> {
  const bytes = await fetchSmall(orchestrator, source, descriptor, signal);
  return parseDocument(bytes, descriptor);
}
