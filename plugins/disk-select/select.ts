import { OcipullError, type Platform, type Selection, type SelectRequest, sameArch } from 'ocipull';
import { checkArtifact } from './artifact.js';
import { fits, noMatch, offerOf } from './match.js';
import { titleArch } from './title.js';
import { findDisk } from './walk.js';

export interface SelectOptions {
  maxDepth: number;
  maxEntries?: number;
  /** Codec name for a file extension, from the codec registry (third-party codecs included). */
  codecForExtension(ext: string): string | undefined;
}

/** Choose the disk the request wants out of the source's root document. */
export async function selectDisk(request: SelectRequest, options: SelectOptions): Promise<Selection> {
  const { root, want, source, log } = request;
  let manifestDescriptor = root.descriptor;
  let manifestDoc = root;
  let platform: Platform = { os: want.os, architecture: want.architecture };
  let diskType = want.diskType;

  if (root.kind === 'index') {
    const walk = await findDisk(root, {
      load: request.load,
      accept: (offer) => fits(offer, want),
      maxDepth: options.maxDepth,
      maxEntries: options.maxEntries,
    });
    if (!walk.found) throw noMatch(want, walk.offers, source.reference, walk.containers);
    manifestDescriptor = walk.found.descriptor;
    platform = manifestDescriptor.platform ?? platform;
    diskType = walk.found.diskType;
    manifestDoc = await request.load(manifestDescriptor);
    if (manifestDoc.kind !== 'manifest') {
      throw new OcipullError(
        'MEDIA_TYPE_UNSUPPORTED',
        `the ${diskType} entry ${manifestDescriptor.digest} points at an index, not a disk manifest`,
        {
          hint: 'a disktype entry must point at a one-layer image manifest',
        },
      );
    }
  } else {
    // The reference names one manifest: it is the disk, unless its descriptor says otherwise.
    const offer = offerOf(root.descriptor);
    if (offer && !fits(offer, want)) throw noMatch(want, [offer], source.reference, 0);
    platform = root.descriptor.platform ?? platform;
  }
  const platformUnknown = root.kind === 'manifest' && root.descriptor.platform === undefined;
  if (manifestDoc.kind !== 'manifest') throw new OcipullError('INTERNAL', 'selection ended on an index');

  const facts = checkArtifact(
    manifestDoc.manifest,
    manifestDescriptor.digest,
    want,
    (ext) => options.codecForExtension(ext) !== undefined,
  );
  if (platformUnknown) {
    // No index entry says the platform: the title may name the architecture; nothing is guessed.
    const named = facts.title === undefined ? undefined : titleArch(facts.title);
    if (named === undefined && facts.title === undefined && want.allowMissingTitle) {
      // --allow-missing-title already takes what the layer does not say from the request.
      log.warn(
        `${source.reference}: manifest ${manifestDescriptor.digest} carries no platform and its layer no title; taken as ${want.os}/${want.architecture} as requested`,
      );
    } else if (named === undefined)
      throw platformUnknownError(source.reference, manifestDescriptor.digest, want, facts.title);
    else if (!sameArch(named, want.architecture)) {
      throw new OcipullError(
        'NO_MATCHING_DISK',
        `${source.reference} has no ${diskType} ${want.os}/${want.architecture} disk: its one manifest ${manifestDescriptor.digest} carries no platform and its title ${JSON.stringify(facts.title)} names ${named}`,
        {
          hint: `pass --arch ${named} to take this disk, or point at an index listing a ${want.architecture} disk`,
          data: {
            wanted: { diskType: want.diskType, os: want.os, architecture: want.architecture },
            offered: [{ diskType, architecture: named, digest: manifestDescriptor.digest, from: 'title' }],
          },
        },
      );
    } else platform = { os: want.os, architecture: named };
  }
  // The title wins (it names the output); a different preset format is usual after --disk-type.
  if (facts.format && want.format && facts.format !== want.format) {
    log.debug(
      `the ${diskType} disk is ${facts.format} (title ${facts.title}), not the ${want.format} the preset expects`,
    );
  }
  const codecHint =
    facts.codecExtension === undefined
      ? undefined
      : (options.codecForExtension(facts.codecExtension) ?? facts.codecExtension);
  log.debug(
    `selected ${diskType} ${platform.os}/${platform.architecture}: ${manifestDescriptor.digest} layer ${facts.layer.digest}`,
  );
  return {
    manifestDescriptor,
    manifest: manifestDoc.manifest,
    layer: facts.layer,
    diskType,
    platform,
    title: facts.title,
    format: facts.format,
    codecHint,
  };
}

function platformUnknownError(
  reference: string,
  digest: string,
  want: SelectRequest['want'],
  title: string | undefined,
): OcipullError {
  const named =
    title === undefined
      ? 'the layer has no title'
      : `its title ${JSON.stringify(title)} names no architecture`;
  return new OcipullError(
    'NO_MATCHING_DISK',
    `${reference}: the platform of manifest ${digest} is unknown (its index entry has no platform and ${named}), so it cannot be taken for ${want.os}/${want.architecture}`,
    {
      hint: "republish it with its platform (ocipull copy of an index keeps the entry's platform; pack sets it), or name the architecture in the file name (podman-machine.x86_64.qemu.qcow2.zst)",
      data: {
        wanted: { diskType: want.diskType, os: want.os, architecture: want.architecture },
        offered: [{ digest, platform: 'unknown' }],
      },
    },
  );
}
