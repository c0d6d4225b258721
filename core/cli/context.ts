import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import {
  type CliOverrides,
  createOrchestrator,
  type ResolvedConfig,
  resolveConfig,
} from '../config/resolve.js';
import { validateFlag } from '../config/schema.js';
import { createLogger } from '../log.js';
import type { Orchestrator } from '../orchestrator.js';
import type { Logger } from '../types.js';

/** What every command gets from the CLI runner. */
export interface CliContext {
  /** Aborted on SIGINT / SIGTERM. */
  readonly signal: AbortSignal;
  /** Write to stdout (results, --json). */
  out(text: string): void;
  /** Set by commands that print JSON, so failures are reported as JSON too. */
  json: boolean;
  /** Resolve config + presets + flags and build an orchestrator with the plugins applied. */
  setup(flags: CommonFlags): Promise<{ orchestrator: Orchestrator; config: ResolvedConfig; log: Logger }>;
}

/** Flags shared by the commands that run a pipeline. */
export interface CommonFlags {
  config?: string;
  preset?: string;
  diskType?: string;
  arch?: string;
  os?: string;
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
    .option('--debug', 'log debug details on stderr (never credentials)');
}

export function addSelectionOptions(command: Command): Command {
  return command
    .option('--disk-type <type>', 'disktype to select (qemu, applehv, hyperv, wsl); overrides the preset')
    .option('--arch <arch>', 'architecture to select (amd64|x86_64, arm64|aarch64); default: this host')
    .option('--os <os>', 'operating system to select (default linux)')
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

export function overridesFrom(flags: CommonFlags): CliOverrides {
  return {
    configPath: flags.config,
    preset: flags.preset,
    diskType: flags.diskType,
    arch: flags.arch,
    os: flags.os,
    cacheDir: flags.cacheDir,
    tlsVerify: flags.tlsVerify,
    creds: flags.creds,
    authfile: flags.authfile,
    certDir: flags.certDir,
    replace: flags.replace,
    sparse: flags.sparse,
    allowMissingTitle: flags.allowMissingTitle,
    offline: flags.offline,
    logLevel: flags.debug ? 'debug' : flags.quiet ? 'error' : undefined,
    progress: flags.quiet ? 'none' : flags.progress,
  };
}

export function createContext(signal: AbortSignal, write: (text: string) => void): CliContext {
  const context: CliContext = {
    signal,
    out: write,
    json: false,
    async setup(flags) {
      // Refused as the config file's `progress` is: same values, same code.
      if (flags.progress !== undefined) await validateFlag('progress', flags.progress, '--progress');
      const overrides = overridesFrom(flags);
      const config = await resolveConfig(overrides);
      const log = createLogger(config.logLevel);
      if (flags.creds) {
        const password = flags.creds.slice(flags.creds.indexOf(':') + 1);
        log.redact(password);
      }
      const orchestrator = await createOrchestrator(config, log);
      return { orchestrator, config, log };
    },
  };
  return context;
}
