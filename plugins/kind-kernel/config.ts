import { type Descriptor, type KindPlanRequest, OcipullError } from 'ocipull';

/** What a kernel package's config says: the command line and the environment. */
export interface KernelConfig {
  cmd: string[];
  env: string[];
}

/** Configs are small: anything past this is not one. */
const MAX_CONFIG_BYTES = 1 << 20;

function strings(value: unknown, field: string, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  throw new OcipullError(
    'KERNEL_PACKAGE_INVALID',
    `${where}: the config's ${field} is not a list of strings`,
    {
      hint: `${field} is written as a JSON array of strings, e.g. ["console=ttyS0"]`,
    },
  );
}

/** Fetch (verified) and read the config: `config.Cmd` is the command line, `config.Env` its environment. */
export async function readKernelConfig(
  request: Pick<KindPlanRequest, 'readBlob'>,
  descriptor: Descriptor,
  where: string,
): Promise<KernelConfig> {
  const bytes = await request.readBlob(descriptor, MAX_CONFIG_BYTES);
  let parsed: { config?: { Cmd?: unknown; Env?: unknown } };
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new OcipullError(
      'KERNEL_PACKAGE_INVALID',
      `${where}: the config ${descriptor.digest} is not JSON`,
      {
        hint: 'a kernel package config is an OCI image config (application/vnd.oci.image.config.v1+json)',
        cause: error,
      },
    );
  }
  return {
    cmd: strings(parsed?.config?.Cmd, 'config.Cmd', where),
    env: strings(parsed?.config?.Env, 'config.Env', where),
  };
}
