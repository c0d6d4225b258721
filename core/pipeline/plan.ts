import { OcipullError } from '../errors/errors.js';
import type { Plan } from '../kinds/types.js';
import { verifyBytes } from '../oci/digest.js';
import { MAX_DOCUMENT_BYTES } from '../oci/documents.js';
import type { Orchestrator } from '../orchestrator.js';
import type { Descriptor, DiskRequest, LoadedDocument, Source } from '../types.js';
import { expandOutputName } from './output.js';
import type { Resolved } from './resolve.js';
import { readAll } from './source.js';

export interface Planned {
  plan: Plan;
  /** Every document read to make the plan, root first (remembered for offline use). */
  documents: LoadedDocument[];
}

/** What the run asks a selector for, from the settings (`key` is the `select` hook key). */
export function diskRequest(orchestrator: Orchestrator, key = orchestrator.settings.diskType): DiskRequest {
  const settings = orchestrator.settings;
  return {
    diskType: key,
    os: settings.os,
    architecture: settings.arch,
    ...(settings.variant === undefined ? {} : { variant: settings.variant }),
    allowMissingTitle: settings.allowMissingTitle,
    format: settings.format,
  };
}

/**
 * A small blob (an image config) fetched whole and verified by digest and size; refused before
 * it is read when its descriptor says it is over `maxBytes`.
 */
export async function readSmallBlob(
  orchestrator: Orchestrator,
  source: Source,
  descriptor: Descriptor,
  signal: AbortSignal,
  maxBytes = MAX_DOCUMENT_BYTES,
): Promise<Buffer> {
  const what = `blob ${descriptor.digest}`;
  if (!(descriptor.size <= maxBytes)) {
    throw new OcipullError(
      'MANIFEST_TOO_LARGE',
      `${what} is ${descriptor.size} bytes, over the ${maxBytes}-byte limit`,
      {
        hint: 'a config is a small JSON document; this descriptor is corrupt or not a config',
      },
    );
  }
  const bytes =
    descriptor.data !== undefined
      ? Buffer.from(descriptor.data, 'base64')
      : await readAll((await orchestrator.fetchRaw(source, descriptor, 0, signal)).body, maxBytes, what);
  verifyBytes(bytes, descriptor, what);
  return bytes;
}

/** A plan the core can run: parts, an output shape they fit, names for `files` outputs. */
function checkPlan(plan: Plan, kind: string): Plan {
  const invalid = (why: string) =>
    new OcipullError('PLUGIN_INVALID', `the ${kind} kind planned a pull the core cannot run: ${why}`);
  if (!plan || !Array.isArray(plan.parts) || plan.parts.length === 0) throw invalid('it has no parts');
  const shape = plan.output?.type;
  if (shape !== 'file' && shape !== 'files' && shape !== 'tree') throw invalid(`output ${String(shape)}`);
  if (shape === 'file' && (plan.parts.length !== 1 || plan.parts[0]!.place.type !== 'file'))
    throw invalid('a file output is one part placed as a file');
  return plan;
}

/** Ask the run's kind (`--kind`, default `disk`) what to pull out of the root document. */
export async function planPull(
  orchestrator: Orchestrator,
  resolved: Resolved,
  signal: AbortSignal,
): Promise<Planned> {
  const settings = orchestrator.settings;
  // NO_KIND (with a did-you-mean and the kinds there are) when no plugin registered it.
  const kind = orchestrator.kinds.get(settings.kind);
  const { source, root } = resolved;
  const documents: LoadedDocument[] = [root];
  const load = async (descriptor: Descriptor) => {
    const document = await orchestrator.load(source, descriptor, signal);
    documents.push(document);
    return document;
  };
  const plan = await kind.plan({
    source,
    root,
    settings,
    load,
    select: (key) => {
      const want = diskRequest(orchestrator, key);
      orchestrator.hooks.progress.call({
        phase: 'select',
        message: `${want.diskType} ${want.os}/${want.architecture}`,
      });
      return orchestrator.select(source, root, want, signal, (d) => documents.push(d));
    },
    expandOutputName: (values) => expandOutputName(settings.outputName, values),
    readBlob: (descriptor, maxBytes) => readSmallBlob(orchestrator, source, descriptor, signal, maxBytes),
    signal,
    log: orchestrator.log,
  });
  return { plan: checkPlan(plan, kind.name), documents };
}
