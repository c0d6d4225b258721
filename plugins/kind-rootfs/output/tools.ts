import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { OcipullError, renameReplacing, tempName } from 'ocipull';

/** Run a tool; a failure is ROOTFS_OUTPUT_FAILED naming the tool and the first lines it printed. */
export function runTool(
  command: string,
  args: readonly string[],
  options: { cwd?: string; signal?: AbortSignal } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { ...options, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      if (error.name === 'AbortError') return reject(error);
      const said = `${stderr}`.trim().split('\n').slice(-5).join('\n') || error.message;
      reject(
        new OcipullError('ROOTFS_OUTPUT_FAILED', `${command} failed: ${said}`, {
          cause: error,
          hint:
            (error as NodeJS.ErrnoException).code === 'ENOENT'
              ? `install ${command} (Debian: ${PACKAGES[command] ?? command})`
              : 'the tool named above says what it needed',
        }),
      );
    });
  });
}

const PACKAGES: Record<string, string> = {
  'mkfs.ext4': 'e2fsprogs',
  'mkfs.erofs': 'erofs-utils',
  fakeroot: 'fakeroot',
};

/** Write `out` through a temp name beside it: nothing half written at `out` when `make` fails. */
export async function writeAtomically(out: string, make: (temp: string) => Promise<void>): Promise<void> {
  const temp = tempName(out);
  try {
    await make(temp);
    await renameReplacing(temp, out);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
