/**
 * `pack` and `copy` as the library and the public entry call them. The publishing modules load on
 * first use, so a pull never parses them.
 */
import type { Orchestrator } from '../orchestrator.js';
import type { CopyRequest, CopyResult } from './copy.js';
import type { PackRequest, PackResult } from './pack.js';

export async function runPack(orchestrator: Orchestrator, request: PackRequest): Promise<PackResult> {
  return (await import('./pack.js')).runPack(orchestrator, request);
}

export async function runCopy(orchestrator: Orchestrator, request: CopyRequest): Promise<CopyResult> {
  return (await import('./copy.js')).runCopy(orchestrator, request);
}
