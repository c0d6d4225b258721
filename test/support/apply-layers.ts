/**
 * A child process of the rootfs suites (run as another user with setpriv): apply gzip layers in
 * order into a tree, keeping the rootless record beside it.
 *   node apply-layers.js '{"root": DIR, "layers": [FILE, ...]}'
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { applyLayer } from '../../plugins/kind-rootfs/apply/apply.js';
import { Budget } from '../../plugins/kind-rootfs/apply/limits.js';
import { RecordWriter, recordPathFor } from '../../plugins/kind-rootfs/apply/record.js';

const { root, layers } = JSON.parse(process.argv[2] ?? '{}') as { root: string; layers: string[] };
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
process.stdout.write(`${JSON.stringify({ uid: process.getuid?.(), warnings })}\n`);
