import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import {
  createOrchestrator,
  type Logger,
  type Ocipull,
  OcipullError,
  type Orchestrator,
  type OrchestratorSetup,
  type ResolvedConfig,
  sameArch,
} from 'ocipull';

/** What every command gets from the CLI runner. */
export interface CliContext {
  /** Aborted on SIGINT / SIGTERM. */
  readonly signal: AbortSignal;
  /** Write to stdout (results, --json). */
  out(text: string): void;
  /** Set by commands that print JSON, so failures are reported as JSON too. */
  json: boolean;
  /** `--debug` / `-v` given before the subcommand (`ocipull --debug pull …`). */
  debug: boolean;
  /** Resolve config + presets + flags through the library (`createOrchestrator`), plugins applied. */
  setup(
    flags: CommonFlags,
    /** Library options a command adds beside the common flags' (pull: `kinds.rootfs`). */
    extra?: OrchestratorSetup,
  ): Promise<{ ocipull: Ocipull; orchestrator: Orchestrator; config: ResolvedConfig; log: Logger }>;
}

/** Flags shared by the commands that run a pipeline. */
export interface CommonFlags {
  config?: string;
  preset?: string;
  /** `--kind` (pull): the artifact kind. */
  kind?: string;
  /** `--kernel-version` / `--feature` (pull, kernel kind). */
  kernelVersion?: string;
  feature?: string[];
  diskType?: string;
  arch?: string;
  os?: string;
  /** `OS/ARCH[/VARIANT]`, as docker and podman spell a platform. */
  platform?: string;
  /** skopeo's spellings of --arch / --os and the variant. */
  overrideArch?: string;
  overrideOs?: string;
  overrideVariant?: string;
  cacheDir?: string;
  tlsVerify?: boolean;
  creds?: string;
  authfile?: string;
  certDir?: string;
  replace?: boolean;
  sparse?: boolean;
  allowMissingTitle?: boolean;
  offline?: boolean;
  quiet?: boolean;
  debug?: boolean;
  verbose?: boolean;
  json?: boolean;
  progress?: 'auto' | 'plain' | 'json' | 'none';
}

export function parseBool(value: string | undefined): boolean {
  if (value === undefined || value === 'true' || value === '1' || value === 'yes') return true;
  if (value === 'false' || value === '0' || value === 'no') return false;
  throw new InvalidArgumentError('expected true or false');
}

export function addConfigOptions(command: Command): Command {
  return command
    .option('--config <path>', 'configuration file (default: searched from the working directory up)')
    .option('--preset <name>', 'preset by name (qemu, applehv, libkrun, hyperv, wsl) or path')
    .option('--debug', 'log debug details on stderr (never credentials)')
    .option('-v, --verbose', 'same as --debug');
}

export function addPlatformOptions(command: Command, verb = 'select'): Command {
  return command
    .option('--arch <arch>', `architecture to ${verb} (amd64|x86_64, arm64|aarch64); default: this host`)
    .option('--os <os>', `operating system to ${verb} (default linux)`)
    .option(
      '--platform <os/arch[/variant]>',
      `platform to ${verb}, e.g. linux/arm64/v8 (with --arch/--os: must agree)`,
    )
    .option('--override-arch <arch>', 'same as --arch (skopeo spelling)')
    .option('--override-os <os>', 'same as --os (skopeo spelling)')
    .option('--override-variant <variant>', 'CPU variant to require (skopeo spelling), e.g. v8');
}

/**
 * One platform out of --platform, --arch/--os and skopeo's --override-*: the flags that say the
 * same thing must say it alike (architectures compared in either naming).
 */
export function platformFrom(flags: CommonFlags): { os?: string; arch?: string; variant?: string } {
  let fromPlatform: { os?: string; arch?: string; variant?: string } = {};
  if (flags.platform !== undefined) {
    const parts = flags.platform.split('/');
    if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
      throw new OcipullError(
        'USAGE',
        `--platform ${JSON.stringify(flags.platform)} is not OS/ARCH[/VARIANT]`,
        {
          hint: 'e.g. --platform linux/amd64 or --platform linux/arm64/v8',
        },
      );
    }
    fromPlatform = { os: parts[0], arch: parts[1], variant: parts[2] };
  }
  const one = (what: 'os' | 'arch' | 'variant', given: [string, string | undefined][]) => {
    const set = given.filter((g): g is [string, string] => g[1] !== undefined);
    const same = (a: string, b: string) => (what === 'arch' ? sameArch(a, b) : a === b);
    const clash = set.find(([, v]) => !same(v, set[0]![1]));
    if (clash) {
      throw new OcipullError(
        'USAGE',
        `${set[0]![0]} says ${what} ${JSON.stringify(set[0]![1])} but ${clash[0]} says ${JSON.stringify(clash[1])}`,
        { hint: 'give the platform once, or make the flags agree' },
      );
    }
    return set[0]?.[1];
  };
  const arch = one('arch', [
    ['--arch', flags.arch],
    ['--override-arch', flags.overrideArch],
    ['--platform', fromPlatform.arch],
  ]);
  return {
    os: one('os', [
      ['--os', flags.os],
      ['--override-os', flags.overrideOs],
      ['--platform', fromPlatform.os],
    ]),
    arch,
    variant: one('variant', [
      ['--override-variant', flags.overrideVariant],
      ['--platform', fromPlatform.variant],
    ]),
  };
}

export function addSelectionOptions(command: Command): Command {
  addPlatformOptions(command);
  return command
    .option('--disk-type <type>', 'disktype to select (qemu, applehv, hyperv, wsl); overrides the preset')
    .option('--allow-missing-title', 'accept a disk layer without org.opencontainers.image.title');
}

export function addTransportOptions(command: Command): Command {
  return command
    .option(
      '--tls-verify [bool]',
      'verify registry TLS certificates (--tls-verify=false for self-signed)',
      parseBool,
    )
    .option('--creds <user:password>', 'registry credentials')
    .option('--authfile <path>', 'auth file (containers auth.json / docker config.json format)')
    .option(
      '--cert-dir <dir>',
      'registry CAs (*.crt) and client certificate (*.cert + *.key) to use instead of certs.d',
    )
    .option('--cache-dir <dir>', 'cache directory (default $XDG_CACHE_HOME/ocipull)')
    .option('--offline', 'use only what is in the cache; never touch the network');
}

/** The flag that sets an option, for messages (`arch` → `--arch`). */
export const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The library's options for these flags (what `createOrchestrator` lays over the config file). */
export function optionsFrom(flags: CommonFlags): OrchestratorSetup {
  const platform = platformFrom(flags);
  return {
    configFile: flags.config,
    preset: flags.preset,
    kind: flags.kind,
    kernelVersion: flags.kernelVersion,
    features: flags.feature?.length ? flags.feature : undefined,
    diskType: flags.diskType,
    arch: platform.arch,
    os: platform.os,
    variant: platform.variant,
    cacheDir: flags.cacheDir,
    tlsVerify: flags.tlsVerify,
    creds: flags.creds,
    authfile: flags.authfile,
    certDir: flags.certDir,
    replace: flags.replace,
    sparse: flags.sparse,
    allowMissingTitle: flags.allowMissingTitle,
    offline: flags.offline,
    logLevel: flags.debug || flags.verbose ? 'debug' : flags.quiet ? 'error' : undefined,
    progress: flags.quiet ? 'none' : flags.progress,
  };
}

export function createContext(signal: AbortSignal, write: (text: string) => void): CliContext {
  const context: CliContext = {
    signal,
    out: write,
    json: false,
    debug: false,
    async setup(given, extra) {
      const flags = context.debug ? { ...given, debug: true } : given;
      const ocipull = await createOrchestrator({ ...optionsFrom(flags), ...extra }, { optionName: flagName });
      return { ocipull, orchestrator: ocipull.orchestrator, config: ocipull.config, log: ocipull.log };
    },
  };
  return context;
}
