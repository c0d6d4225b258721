/**
 * A block device for tests that never touches the machine's own: a loop device over a temp file,
 * and a node for it made with mknod INSIDE the test's directory.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

/** The byte a loop device's backing file is filled with, so untouched bytes can be told apart. */
export const LOOP_FILL = 0xa5;

/**
 * Attach a loop device over `dir/backing` (`dir` is made if missing) (`bytes` of LOOP_FILL), make `dir/dev` with its
 * major:minor, run `body(node, backing)`, check the node is still a block device, and detach the
 * loop device whatever happened.
 */
export async function withLoopDevice(
  dir: string,
  bytes: number,
  body: (node: string, backing: string) => Promise<void>,
): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const backing = join(dir, 'backing');
  await fsp.writeFile(backing, Buffer.alloc(bytes, LOOP_FILL));
  const loop = execFileSync('losetup', ['-f', '--show', backing], { encoding: 'utf8' }).trim();
  try {
    const [major, minor] = execFileSync('stat', ['-c', '%t %T', loop], { encoding: 'utf8' })
      .trim()
      .split(' ')
      .map((hex) => String(Number.parseInt(hex, 16)));
    const node = join(dir, 'dev');
    execFileSync('mknod', [node, 'b', major!, minor!]);
    await body(node, backing);
    assert.ok((await fsp.lstat(node)).isBlockDevice(), `${node} is still a block device`);
  } finally {
    execFileSync('losetup', ['-d', loop]);
  }
}
