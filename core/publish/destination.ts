/**
 * Opening a destination: the transport's `resolve` hook with `purpose: 'push'`, and the check
 * that what it returned can be written to (the push abilities are an optional capability).
 */
import { OcipullError } from '../errors/errors.js';
import type { Orchestrator } from '../orchestrator.js';
import { openSource } from '../pipeline/source.js';
import type { Destination, Source, TransportOptions } from '../types.js';

/** Whether a Source carries the push capability. */
export function isDestination(source: Source | undefined): source is Source & Destination {
  const s = source as Partial<Destination> | undefined;
  return (
    typeof s?.hasBlob === 'function' &&
    typeof s.pushBlob === 'function' &&
    typeof s.pushManifest === 'function'
  );
}

/** Resolve `TRANSPORT:REFERENCE` for writing; UNSUPPORTED when its transport cannot write. */
export async function openDestination(
  orchestrator: Orchestrator,
  raw: string,
  transport: TransportOptions,
  signal: AbortSignal,
): Promise<Source & Destination> {
  const source = await openSource(orchestrator, raw, { purpose: 'push', transport, signal });
  if (!isDestination(source)) {
    await source.close?.();
    throw new OcipullError('UNSUPPORTED', `the ${source.scheme}: transport cannot be written to`, {
      hint: 'publish to oci-dir:DIR[:TAG] or docker://REGISTRY/REPO:TAG',
    });
  }
  return source;
}
