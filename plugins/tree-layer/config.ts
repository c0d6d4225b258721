/**
 * The image config (image-spec config.md; Docker's image JSON has the same fields) and the
 * manifest that carry a tree's layers. A config is built fresh or from a base image's config:
 * the base's platform, runtime fields, `rootfs.diff_ids` and `history` are carried over, and the
 * new layers extend them, one history entry each. Runtime fields given replace the base's, except
 * `Env` (merged by variable name, given ones win) and `Labels` (merged by key); as in Docker,
 * giving an `Entrypoint` without a `Cmd` drops the base's `Cmd`.
 */
import { createHash } from 'node:crypto';
import { type Descriptor, isDigest, normalizeArch, OcipullError, type Platform } from 'ocipull';
import { checkFormat, FORMAT_MEDIA_TYPES, type ManifestFormat, relabelLayer } from './media.js';

export interface RuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  config?: RuntimeConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
  [key: string]: unknown;
}

export interface NewLayer {
  diffId: string;
  /** The history line (default `ocipull pack --rootfs`). */
  createdBy?: string;
  comment?: string;
}

export interface ConfigRequest {
  /** `OS/ARCH[/VARIANT]` or a platform; default the base's, else linux and this host's architecture. */
  platform?: string | Platform;
  /** The base image's config (parsed, or its bytes as published). */
  base?: ImageConfig | Buffer;
  runtime?: RuntimeConfig;
  layers: NewLayer[];
  /** Image and history creation time; default now. */
  created?: Date | string;
  author?: string;
  /** Sets the config's media type (default oci). */
  format?: ManifestFormat;
}

export interface BuiltConfig {
  config: ImageConfig;
  bytes: Buffer;
  descriptor: Descriptor;
}

function invalid(message: string, hint: string): OcipullError {
  return new OcipullError('IMAGE_CONFIG_INVALID', message, { hint });
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** `OS/ARCH[/VARIANT]` → a platform (architecture in OCI naming). */
export function parsePlatform(value: string | Platform): Platform {
  const platform =
    typeof value === 'string'
      ? (() => {
          const [os, architecture, variant, ...rest] = value.split('/');
          if (!os || !architecture || rest.length > 0 || variant === '') {
            throw invalid(
              `platform ${JSON.stringify(value)} is not OS/ARCH[/VARIANT]`,
              'e.g. linux/amd64 or linux/arm64/v8',
            );
          }
          return variant ? { os, architecture, variant } : { os, architecture };
        })()
      : { ...value };
  for (const key of ['os', 'architecture', 'variant'] as const) {
    const field = platform[key];
    if (field !== undefined && !/^[a-z0-9][a-z0-9_.-]*$/.test(field)) {
      throw invalid(
        `platform ${key} ${JSON.stringify(field)} is not a lowercase name`,
        'e.g. linux/amd64 or linux/arm64/v8',
      );
    }
  }
  platform.architecture = normalizeArch(platform.architecture);
  return platform;
}

function checkRuntime(runtime: RuntimeConfig): void {
  for (const env of runtime.Env ?? []) {
    if (!/^[^=\s][^=]*=/.test(env))
      throw invalid(`env ${JSON.stringify(env)} is not NAME=VALUE`, 'pass each variable as NAME=VALUE');
  }
  if (runtime.User !== undefined && !/^[^:\s]+(:[^:\s]+)?$/.test(runtime.User)) {
    throw invalid(
      `user ${JSON.stringify(runtime.User)} is not USER[:GROUP]`,
      'a name or number, optionally :GROUP',
    );
  }
  if (runtime.WorkingDir !== undefined && !runtime.WorkingDir.startsWith('/')) {
    throw invalid(
      `workdir ${JSON.stringify(runtime.WorkingDir)} is not an absolute path`,
      'pass an absolute directory such as /app',
    );
  }
  for (const key of Object.keys(runtime.Labels ?? {})) {
    if (key === '')
      throw invalid('a label has an empty key', 'pass each label as KEY=VALUE with a non-empty KEY');
  }
  for (const list of ['Entrypoint', 'Cmd'] as const) {
    const args = runtime[list];
    if (args !== undefined && !(Array.isArray(args) && args.every((a) => typeof a === 'string'))) {
      throw invalid(`${list} is not a list of strings`, `pass ${list} as an array of arguments`);
    }
  }
}

function parseBase(base: ImageConfig | Buffer): ImageConfig {
  let parsed: unknown = base;
  if (Buffer.isBuffer(base)) {
    try {
      parsed = JSON.parse(base.toString('utf8'));
    } catch (error) {
      throw invalid(
        `the base config is not JSON: ${(error as Error).message}`,
        'the base must be an image config',
      );
    }
  }
  const config = parsed as ImageConfig;
  const ids = config?.rootfs?.diff_ids;
  if (
    typeof config !== 'object' ||
    config === null ||
    !Array.isArray(ids) ||
    !ids.every((d) => typeof d === 'string' && isDigest(d))
  ) {
    throw invalid(
      'the base config has no rootfs.diff_ids list of digests',
      "the base must be an image config (not an artifact's empty config)",
    );
  }
  return structuredClone(config);
}

function mergeEnv(base: string[] = [], given: string[] = []): string[] {
  const name = (env: string) => env.slice(0, env.indexOf('='));
  const out = [...base];
  for (const env of given) {
    const at = out.findIndex((e) => name(e) === name(env));
    if (at >= 0) out[at] = env;
    else out.push(env);
  }
  return out;
}

function mergeRuntime(base: RuntimeConfig = {}, given: RuntimeConfig = {}): RuntimeConfig {
  const out: RuntimeConfig = { ...base, ...given };
  if (given.Entrypoint !== undefined && given.Cmd === undefined) delete out.Cmd;
  if (base.Env || given.Env) out.Env = mergeEnv(base.Env, given.Env);
  if (base.Labels || given.Labels) out.Labels = { ...base.Labels, ...given.Labels };
  return out;
}

function createdString(created: Date | string | undefined): string {
  if (created === undefined) return new Date().toISOString();
  const date = typeof created === 'string' ? new Date(created) : created;
  if (Number.isNaN(date.getTime())) {
    throw invalid(
      `created ${JSON.stringify(String(created))} is not a date`,
      'an RFC 3339 time such as 2024-01-02T03:04:05Z',
    );
  }
  return date.toISOString().replace('.000Z', 'Z');
}

/** The config of an image: the base's (or a fresh one) extended with `layers`. */
export function buildConfig(request: ConfigRequest): BuiltConfig {
  const format = checkFormat(request.format ?? 'oci');
  const base = request.base === undefined ? undefined : parseBase(request.base);
  const runtime = request.runtime ?? {};
  checkRuntime(runtime);
  let platform: Platform;
  if (request.platform !== undefined) {
    platform = parsePlatform(request.platform);
    if (
      base &&
      (base.os !== platform.os ||
        normalizeArch(base.architecture) !== platform.architecture ||
        (base.variant ?? platform.variant) !== platform.variant)
    ) {
      throw invalid(
        `the platform ${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''} is not the base's ${base.os}/${base.architecture}${base.variant ? `/${base.variant}` : ''}`,
        'a diff layer extends its base: build on a base of the same platform, or leave the platform out',
      );
    }
  } else if (base)
    platform = parsePlatform({ os: base.os, architecture: base.architecture, variant: base.variant });
  else platform = { os: 'linux', architecture: normalizeArch(process.arch) };
  for (const layer of request.layers) {
    if (!isDigest(layer.diffId))
      throw invalid(`diff ID ${JSON.stringify(layer.diffId)} is not a digest`, 'sha256:<64 hex>');
  }
  const created = createdString(request.created);
  const config: ImageConfig = base ?? {
    architecture: platform.architecture,
    os: platform.os,
    rootfs: { type: 'layers', diff_ids: [] },
  };
  config.created = created;
  if (request.author !== undefined) config.author = request.author;
  config.architecture = platform.architecture;
  config.os = platform.os;
  if (platform.variant) config.variant = platform.variant;
  const merged = mergeRuntime(base?.config, runtime);
  if (Object.keys(merged).length > 0) config.config = merged;
  config.rootfs = {
    type: 'layers',
    diff_ids: [...config.rootfs.diff_ids, ...request.layers.map((l) => l.diffId)],
  };
  config.history = [
    ...(config.history ?? []),
    ...request.layers.map((layer) => ({
      created,
      created_by: layer.createdBy ?? 'ocipull pack --rootfs',
      ...(request.author !== undefined ? { author: request.author } : {}),
      ...(layer.comment !== undefined ? { comment: layer.comment } : {}),
    })),
  ];
  const bytes = Buffer.from(JSON.stringify(config));
  return {
    config,
    bytes,
    descriptor: { mediaType: FORMAT_MEDIA_TYPES[format].config, digest: sha256(bytes), size: bytes.length },
  };
}

export interface ManifestRequest {
  format?: ManifestFormat;
  config: BuiltConfig | { bytes: Buffer };
  /** Every layer, base layers first; their media types are relabelled into `format`. */
  layers: Descriptor[];
  /** OCI only. */
  annotations?: Record<string, string>;
}

export interface BuiltManifest {
  mediaType: string;
  bytes: Buffer;
  descriptor: Descriptor;
  manifest: Record<string, unknown>;
}

/** The image manifest (OCI by default, or Docker v2s2) of `config` and `layers`. */
export function buildManifest(request: ManifestRequest): BuiltManifest {
  const format = checkFormat(request.format ?? 'oci');
  const types = FORMAT_MEDIA_TYPES[format];
  const configBytes = request.config.bytes;
  const diffIds = parseBase(configBytes).rootfs.diff_ids;
  if (diffIds.length !== request.layers.length) {
    throw invalid(
      `the config lists ${diffIds.length} diff IDs for ${request.layers.length} layers`,
      'build the config with one diff ID per layer, base layers included',
    );
  }
  if (format === 'v2s2' && request.annotations && Object.keys(request.annotations).length > 0) {
    throw invalid(
      'a Docker v2s2 manifest has no annotations',
      'use the OCI manifest format for annotations, or leave them out',
    );
  }
  const layers = request.layers.map((layer) => {
    const out: Descriptor = {
      mediaType: relabelLayer(layer.mediaType, format),
      digest: layer.digest,
      size: layer.size,
    };
    if (layer.urls) out.urls = layer.urls;
    if (format === 'oci' && layer.annotations) out.annotations = layer.annotations;
    return out;
  });
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: types.manifest,
    config: { mediaType: types.config, digest: sha256(configBytes), size: configBytes.length },
    layers,
  };
  if (format === 'oci' && request.annotations && Object.keys(request.annotations).length > 0) {
    manifest.annotations = request.annotations;
  }
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    mediaType: types.manifest,
    bytes,
    descriptor: { mediaType: types.manifest, digest: sha256(bytes), size: bytes.length },
    manifest,
  };
}
