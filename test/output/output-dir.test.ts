/** `-o DIR/` with a missing DIR: made (mkdir -p, 0755) before anything is fetched. */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { pullOrchestrator } from '../oci-dir/helpers.js';
import { registryOrchestrator, sha256File } from '../registry/helpers.js';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';

describe('-o DIR/ with a missing directory', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let layout: MachineOsLayout;
  let original: string;

  before(async () => {
    tmp = await tempDir('ocipull-outdir-');
    original = await makeDisk(tmp.dir, { format: 'qcow2', sizeMiB: 8, dataMiB: 1, seed: 5 });
    layout = await buildMachineOsLayout(join(tmp.dir, 'layout'), {
      tag: 'latest',
      nested: true,
      disks: [{ diskType: 'qemu', arch: 'x86_64', path: await compress(original, 'zstd') }],
    });
  });
  after(() => tmp.cleanup());

  it('`-o a/b/vms/` makes the directories (0755 less the umask) and writes the disk in them', async () => {
    const dir = join(tmp.dir, 'home', 'vms');
    const o = await pullOrchestrator({ arch: 'x86_64', diskType: 'qemu', format: 'qcow2' });
    const result = await o.pull({ source: `oci-dir:${layout.layoutDir}:latest`, output: `${dir}/` });
    const names = await fsp.readdir(dir);
    assert.deepEqual(names, ['podman-machine-default-amd64.qcow2']);
    assert.equal(result.output, join(dir, names[0]!));
    assert.equal(await sha256File(join(dir, names[0]!)), await sha256File(original));
    const umask = process.umask();
    assert.equal((await fsp.stat(dir)).mode & 0o777, 0o755 & ~umask);
    assert.equal((await fsp.stat(join(tmp.dir, 'home'))).mode & 0o777, 0o755 & ~umask);
  });

  describe('a directory that cannot be made', () => {
    let registry: Server;
    let connections = 0;
    before(async () => {
      registry = createServer((c) => {
        connections++;
        c.destroy();
      });
      await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    });
    after(() => new Promise((resolve) => registry.close(resolve)));

    it('`-o FILE/sub/` (a parent is a regular file) fails with OUTPUT_FAILED before any connection', async () => {
      const file = join(tmp.dir, 'plain-file');
      await fsp.writeFile(file, 'not a directory');
      const { port } = registry.address() as { port: number };
      const o = await registryOrchestrator({});
      await assert.rejects(
        o.pull({ source: `docker://127.0.0.1:${port}/podman/machine-os:5.5`, output: `${file}/sub/` }),
        (error: unknown) => {
          assert.ok(isOcipullError(error), String(error));
          assert.equal(error.code, 'OUTPUT_FAILED');
          assert.match(error.message, /cannot make the output directory .*plain-file\/sub.*not a directory/);
          return true;
        },
      );
      assert.equal(connections, 0);
      assert.equal(await fsp.readFile(file, 'utf8'), 'not a directory');
    });
  });
});
