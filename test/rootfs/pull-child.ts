/**
 * A child process of the rootless suite (run as another user with setpriv): one rootfs pull
 * through the library (test/support/rootfs.ts `pullRootfs`), printing the user, the warnings
 * logged and the result, or the error's code and message.
 *   node pull-child.js '{"source": REF, "output": PATH, "cwd": DIR, "rootfs": {...}}'
 */
import { isOcipullError } from 'ocipull';
import { pullRootfs, type RootfsPull } from '../support/rootfs.js';

const request = JSON.parse(process.argv[2] ?? '{}') as RootfsPull;
const warnings: string[] = [];
try {
  const result = await pullRootfs({ ...request, warnings });
  process.stdout.write(`${JSON.stringify({ uid: process.getuid?.(), warnings, result })}\n`);
} catch (error) {
  const code = isOcipullError(error) ? error.code : 'UNKNOWN';
  process.stdout.write(
    `${JSON.stringify({ uid: process.getuid?.(), warnings, error: { code, message: String(error) } })}\n`,
  );
}
