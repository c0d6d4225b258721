import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerCache } from './cache.js';
import { registerConfig } from './config.js';
import { registerCopy } from './copy.js';
import { registerInspect } from './inspect.js';
import { registerPack } from './pack.js';
import { registerPull } from './pull.js';

/** Every CLI command, in the order `--help` lists them. One line per command. */
export const COMMANDS: ((program: Command, context: CliContext) => void)[] = [
  registerPull,
  registerInspect,
  registerPack,
  registerCopy,
  registerConfig,
  registerCache,
];
