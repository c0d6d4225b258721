/**
 * The rootfs kind's pack inputs (the CLI's `--rootfs`, `--base`, `--platform`,
 * `--manifest-format`, `--compress` and runtime flags, or a library caller's values) checked and
 * shaped before anything is read or published.
 */
import { resolve } from 'node:path';
import { OcipullError } from 'ocipull';
import {
  LAYER_CODECS,
  type LayerCodec,
  layerMediaType,
  MANIFEST_FORMATS,
  type ManifestFormat,
  type RuntimeConfig,
} from '../tree-layer/api.js';

export function invalid(message: string, hint: string): OcipullError {
  return new OcipullError('PACK_INPUT_INVALID', message, { hint });
}

/** One string input (the CLI's `--input NAME=VALUE` gives lists). */
function one(inputs: Record<string, unknown>, name: string): string | undefined {
  const value = inputs[name];
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.length !== 1 || typeof list[0] !== 'string') {
    throw invalid(`the rootfs kind's ${name} input must be one string`, `give ${name} once`);
  }
  return list[0];
}

function strings(inputs: Record<string, unknown>, name: string): string[] | undefined {
  const value = inputs[name];
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((v) => typeof v === 'string')) {
    throw invalid(`the rootfs kind's ${name} input must be strings`, `give each ${name} as a string`);
  }
  return list as string[];
}

/** `K=V` strings (or an object) → a record; `flag` names the option in messages. */
function keyValues(
  inputs: Record<string, unknown>,
  name: string,
  flag: string,
): Record<string, string> | undefined {
  const value = inputs[name];
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
  }
  const out: Record<string, string> = {};
  for (const pair of strings(inputs, name) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw invalid(`${flag} ${JSON.stringify(pair)} is not KEY=VALUE`, `e.g. ${flag} org.example.a=b`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export interface RootfsPackInputs {
  rootfs: string;
  base?: string;
  platform?: string;
  manifestFormat: ManifestFormat;
  compress: LayerCodec;
  runtime: RuntimeConfig;
  annotations?: Record<string, string>;
  created?: string;
}

/** The inputs checked: what is missing or malformed fails before anything is read or pushed. */
export function packInputs(inputs: Record<string, unknown>): RootfsPackInputs {
  const rootfs = one(inputs, 'rootfs');
  if (!rootfs) {
    throw invalid('the rootfs kind packs a tree: no rootfs input given', 'pass --rootfs DIR');
  }
  const format = one(inputs, 'manifestFormat') ?? 'oci';
  if (!(MANIFEST_FORMATS as readonly string[]).includes(format)) {
    throw invalid(
      `--manifest-format ${JSON.stringify(format)} is not known`,
      `choose one of ${MANIFEST_FORMATS.join(', ')}`,
    );
  }
  const compress = one(inputs, 'compress') ?? 'gzip';
  if (!(LAYER_CODECS as readonly string[]).includes(compress)) {
    throw invalid(
      `--compress ${JSON.stringify(compress)} cannot compress an image layer`,
      `choose one of ${LAYER_CODECS.join(', ')} (default gzip)`,
    );
  }
  // Refused here with the format named (zstd layers exist in OCI manifests only).
  layerMediaType(format as ManifestFormat, compress as LayerCodec);
  const runtime: RuntimeConfig = {};
  const entrypoint = strings(inputs, 'entrypoint');
  if (entrypoint?.length) runtime.Entrypoint = entrypoint;
  const cmd = strings(inputs, 'cmd');
  if (cmd?.length) runtime.Cmd = cmd;
  const env = strings(inputs, 'env');
  if (env?.length) runtime.Env = env;
  const workdir = one(inputs, 'workdir');
  if (workdir !== undefined) runtime.WorkingDir = workdir;
  const user = one(inputs, 'user');
  if (user !== undefined) runtime.User = user;
  const labels = keyValues(inputs, 'labels', '--label');
  if (labels && Object.keys(labels).length > 0) runtime.Labels = labels;
  const annotations = keyValues(inputs, 'annotations', '--annotation');
  const hasAnnotations = annotations !== undefined && Object.keys(annotations).length > 0;
  if (hasAnnotations && format === 'v2s2') {
    throw invalid(
      'a Docker v2s2 manifest has no annotations',
      'use --manifest-format oci for --annotation, or leave them out',
    );
  }
  const epoch = process.env.SOURCE_DATE_EPOCH;
  let created = one(inputs, 'created');
  if (created === undefined && epoch !== undefined && epoch !== '') {
    if (!/^\d+$/.test(epoch))
      throw invalid(
        `SOURCE_DATE_EPOCH ${JSON.stringify(epoch)} is not a number of seconds`,
        'e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)',
      );
    created = new Date(Number(epoch) * 1000).toISOString();
  }
  return {
    rootfs: resolve(rootfs),
    base: one(inputs, 'base'),
    platform: one(inputs, 'platform'),
    manifestFormat: format as ManifestFormat,
    compress: compress as LayerCodec,
    runtime,
    ...(hasAnnotations && { annotations }),
    ...(created !== undefined && { created }),
  };
}
