/**
 * A child process of the rootfs suites (run as another user with setpriv): apply gzip layers in
 * order into a tree, keeping the rootless record beside it.
 * Then, when asked, turn the tree into a tar, ext4 and erofs (as the same user).
 *   node apply-layers.js '{"root": DIR, "layers": [FILE, ...], "outputs": {"tar": FILE, "ext4": FILE, "erofs": FILE}}'
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { applyLayer } from '../../plugins/kind-rootfs/apply/apply.js';
import { Budget } from '../../plugins/kind-rootfs/apply/limits.js';
import { RecordWriter, recordPathFor } from '../../plugins/kind-rootfs/apply/record.js';
import { treeToErofs, treeToExt4 } from '../../plugins/kind-rootfs/output/disk.js';
import { treeToTar } from '../../plugins/kind-rootfs/output/tar.js';

const {
  root,
  layers,
  outputs = {},
} = JSON.parse(process.argv[2] ?? '{}') as {
  root: string;
  layers: string[];
  outputs?: { tar?: string; ext4?: string; erofs?: string };
};
const record = new RecordWriter(recordPathFor(root));
const budget = new Budget();
const warnings: string[] = [];
const log = {
  level: 'warn' as const,
  warn: (m: string) => warnings.push(m),
  error() {},
  info() {},
  debug() {},
  redact() {},
};
for (const [i, layer] of layers.entries()) {
  await applyLayer(createReadStream(layer).pipe(createGunzip()), root, {
    record,
    budget,
    log,
    label: `layer ${i}`,
  });
}
await record.close();
if (outputs.tar) await treeToTar(root, outputs.tar);
if (outputs.ext4) await treeToExt4(root, outputs.ext4);
if (outputs.erofs) await treeToErofs(root, outputs.erofs);
process.stdout.write(`${JSON.stringify({ uid: process.getuid?.(), warnings })}\n`);
