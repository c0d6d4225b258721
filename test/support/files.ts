/** File and plugin helpers shared by the test suites. */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import type { Orchestrator, Plugin } from 'ocipull';
import { repoRoot } from './paths.js';

/** Whether anything (a dangling symlink included) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  return fsp.lstat(path).then(
    () => true,
    () => false,
  );
}

/** Hex sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Apply built-in plugins by folder name, loaded from dist/ as the CLI loads them. */
export async function useBuiltins(
  orchestrator: Orchestrator,
  names: readonly string[],
): Promise<Orchestrator> {
  for (const name of names) {
    const url = pathToFileURL(join(repoRoot, 'dist', 'plugins', name, 'index.js')).href;
    const { default: PluginClass } = (await import(url)) as { default: new () => Plugin };
    orchestrator.use(new PluginClass());
  }
  return orchestrator;
}

/** mulberry32: a seeded PRNG of floats in [0, 1), so "random" offsets and moments repeat run after run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` bytes from the seeded PRNG: fixture content that is the same run after run (not `randomBytes`). */
export function prngBytes(length: number, seed: number): Buffer {
  const next = prng(seed);
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for (; at + 4 <= length; at += 4) out.writeUInt32LE(Math.floor(next() * 4294967296) >>> 0, at);
  for (; at < length; at++) out[at] = Math.floor(next() * 256);
  return out;
}
