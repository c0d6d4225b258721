/**
 * The first bytes of the disk inside an already compressed `pack` input, so its format can be
 * checked against the disk type and title before anything is published (an uncompressed input's
 * head is read directly). The codec's own tool decodes just that much and is stopped.
 */
import { spawn } from 'node:child_process';
import { findExecutable } from '../pipeline/decoder.js';
import type { PackCodec } from './machine-os.js';

/** The tool that decodes each codec to stdout with `-dc`; zip is a container (left unchecked). */
const TOOLS: Partial<Record<PackCodec, string>> = { zstd: 'zstd', xz: 'xz', gzip: 'gzip', bzip2: 'bzip2' };

/**
 * Up to `bytes` decoded bytes of `path`, or undefined when no tool for `codec` is installed (or the
 * codec is zip): then the check is left to `pull`, which checks every disk it writes.
 */
export async function decodedHead(
  path: string,
  codec: PackCodec,
  bytes: number,
): Promise<Buffer | undefined> {
  const name = TOOLS[codec];
  const tool = name ? findExecutable(name) : undefined;
  if (!tool) return undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(tool, ['-dc', '--', path], { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let length = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      child.kill();
      resolve(Buffer.concat(chunks).subarray(0, bytes));
    };
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= bytes) finish();
    });
    // A damaged input gives what decoded before the damage; pull reports the damage itself.
    child.stdout.on('end', finish);
    child.on('error', (error) => {
      if (!done) reject(error);
    });
  });
}
