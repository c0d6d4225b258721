/**
 * The runtime settings of an image config (image-spec config.md `config` object) as the result's
 * fields: what a VM's init or a runtime needs to start the image's program.
 */
import { OcipullError } from 'ocipull';

export interface RuntimeSettings {
  entrypoint: string[];
  cmd: string[];
  /** `NAME=value` in the config's order (a later duplicate wins when read as a map). */
  env: string[];
  workingDir: string;
  /** `user`, `uid`, `user:group` or `uid:gid` as the config says ('' : root). */
  user: string;
  /** `80/tcp`, `53/udp`: a port without protocol means tcp (config.md). */
  exposedPorts: string[];
  volumes: string[];
  labels: Record<string, string>;
  stopSignal: string;
}

function invalid(key: string, expected: string): OcipullError {
  return new OcipullError('MANIFEST_INVALID', `the image config's config.${key} is not ${expected}`, {
    hint: 'image-spec config.md gives the type of each field',
    data: { key },
  });
}

const strings = (value: unknown, key: string): string[] => {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw invalid(key, 'an array of strings');
  return value as string[];
};

const text = (value: unknown, key: string): string => {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalid(key, 'a string');
  return value;
};

const keys = (value: unknown, key: string): string[] => {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(key, 'an object');
  return Object.keys(value);
};

/** The runtime settings of a parsed image config (a missing `config` object: all empty). */
export function runtimeSettings(imageConfig: unknown): RuntimeSettings {
  const config = (imageConfig as { config?: Record<string, unknown> } | undefined)?.config ?? {};
  if (typeof config !== 'object' || Array.isArray(config)) throw invalid('', 'an object');
  const labels = config.Labels ?? {};
  if (
    typeof labels !== 'object' ||
    Array.isArray(labels) ||
    Object.values(labels as object).some((v) => typeof v !== 'string')
  ) {
    throw invalid('Labels', 'an object of strings');
  }
  return {
    entrypoint: strings(config.Entrypoint, 'Entrypoint'),
    cmd: strings(config.Cmd, 'Cmd'),
    env: strings(config.Env, 'Env'),
    workingDir: text(config.WorkingDir, 'WorkingDir'),
    user: text(config.User, 'User'),
    exposedPorts: keys(config.ExposedPorts, 'ExposedPorts').map((p) => (p.includes('/') ? p : `${p}/tcp`)),
    volumes: keys(config.Volumes, 'Volumes'),
    labels: { ...(labels as Record<string, string>) },
    stopSignal: text(config.StopSignal, 'StopSignal'),
  };
}
