/** A disk image mounted read-only on a loop device inside a temp directory, unmounted and detached after. */
import { execFileSync } from 'node:child_process';
import { mkdir, rmdir } from 'node:fs/promises';

export async function withMounted<T>(
  image: string,
  type: 'ext4' | 'erofs',
  at: string,
  body: (dir: string) => Promise<T>,
): Promise<T> {
  await mkdir(at, { recursive: true });
  const loop = execFileSync('losetup', ['-f', '--show', '-r', image], { encoding: 'utf8' }).trim();
  try {
    execFileSync('mount', ['-t', type, '-o', 'ro', loop, at]);
    try {
      return await body(at);
    } finally {
      execFileSync('umount', [at]);
    }
  } finally {
    execFileSync('losetup', ['-d', loop]);
    await rmdir(at);
  }
}
