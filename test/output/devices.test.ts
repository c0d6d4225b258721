/**
 * Special files at the output path. Every node is made INSIDE a temp directory (mknod, mkfifo, a
 * listening unix socket); the machine's own devices are never touched.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { pullOrchestrator } from '../oci-dir/helpers.js';
import { registryOrchestrator } from '../registry/helpers.js';
import { runCli } from '../support/cli.js';
import { compress, makeDisk } from '../support/disks.js';
import { LOOP_FILL, withLoopDevice } from '../support/loop-device.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';

type Kind = 'character device' | 'FIFO' | 'socket';

const IS: Record<Kind, (s: Stats) => boolean> = {
  'character device': (s) => s.isCharacterDevice(),
  FIFO: (s) => s.isFIFO(),
  socket: (s) => s.isSocket(),
};

describe('special files as output', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let sock: Server;
  /** A registry stand-in on 127.0.0.1 that counts connections: the refusal must come first. */
  let registry: Server;
  let connections = 0;
  const nodes: Record<Kind, string> = { 'character device': '', FIFO: '', socket: '' };

  before(async () => {
    tmp = await tempDir('ocipull-dev-');
    nodes['character device'] = join(tmp.dir, 'null');
    execFileSync('mknod', [nodes['character device'], 'c', '1', '3']);
    nodes.FIFO = join(tmp.dir, 'fifo');
    execFileSync('mkfifo', [nodes.FIFO]);
    nodes.socket = join(tmp.dir, 'sock');
    sock = createServer();
    await new Promise<void>((resolve) => sock.listen(nodes.socket, resolve));
    registry = createServer((c) => {
      connections++;
      c.destroy();
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise((resolve) => sock.close(resolve));
    await new Promise((resolve) => registry.close(resolve));
    await tmp.cleanup();
  });

  const source = () => {
    const { port } = registry.address() as { port: number };
    return `docker://127.0.0.1:${port}/podman/machine-os:5.5`;
  };

  for (const kind of Object.keys(nodes) as Kind[]) {
    for (const replace of [false, true]) {
      it(`a ${kind} at -o is refused${replace ? ' with --replace' : ''}, before any network work, and stays a ${kind}`, async () => {
        const path = nodes[kind];
        const o = await registryOrchestrator({ replace });
        const before = connections;
        await assert.rejects(o.pull({ source: source(), output: path }), (error: unknown) => {
          assert.ok(isOcipullError(error), String(error));
          assert.equal(error.code, 'OUTPUT_NOT_FILE');
          assert.match(error.message, new RegExp(`${path}.*${kind}`));
          assert.match(error.hint ?? '', /regular file.*block device.*--replace/);
          return true;
        });
        assert.equal(connections, before, 'no connection was made to the registry');
        const stat = await fsp.lstat(path);
        assert.ok(IS[kind](stat), `${path} is still a ${kind}`);
        assert.deepEqual(
          (await fsp.readdir(tmp.dir)).filter((n) => n.endsWith('.ocipull-tmp')),
          [],
          'no temp file left',
        );
      });
    }
  }

  it('the CLI exits non-zero with OUTPUT_NOT_FILE for `-o CHARDEV --replace`; the node survives', async () => {
    const path = nodes['character device'];
    const result = await runCli(['pull', source(), '-o', path, '--replace', '--json', '--tls-verify=false']);
    assert.notEqual(result.code, 0);
    assert.match(result.stdout + result.stderr, /OUTPUT_NOT_FILE/);
    assert.match(result.stdout + result.stderr, /character device/);
    assert.ok((await fsp.lstat(path)).isCharacterDevice());
    assert.equal(connections, 0, 'no connection was made to the registry');
  });
});

const MiB = 1 << 20;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a block device as output', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let layout: MachineOsLayout;
  let disk: Buffer;

  before(async () => {
    tmp = await tempDir('ocipull-blk-');
    // A 4 MiB raw disk, mostly zero runs: with holes those would be skipped, leaving 0xa5 behind.
    const raw = await makeDisk(tmp.dir, { format: 'raw', sizeMiB: 4, dataMiB: 1, seed: 3 });
    disk = await fsp.readFile(raw);
    layout = await buildMachineOsLayout(join(tmp.dir, 'layout'), {
      tag: 'latest',
      nested: true,
      disks: [{ diskType: 'applehv', arch: 'x86_64', path: await compress(raw, 'zstd') }],
    });
  });
  after(() => tmp.cleanup());

  const pull = async (output: string, replace: boolean) => {
    // applehv sets sparse: holes are wanted for files, and must not be made on a device.
    const o = await pullOrchestrator({
      arch: 'x86_64',
      diskType: 'applehv',
      format: 'raw',
      replace,
      sparse: true,
    });
    return o.pull({ source: `oci-dir:${layout.layoutDir}:latest`, output });
  };
  const temps = async () => (await fsp.readdir(tmp.dir)).filter((n) => n.endsWith('.ocipull-tmp'));

  it('with --replace the disk is written into the device in place, zero runs as zeros, nothing past its end', async () => {
    await withLoopDevice(join(tmp.dir, 'blk'), 8 * MiB, async (node, backing) => {
      const result = await pull(node, true);
      assert.equal(result.output, node);
      const written = await fsp.readFile(backing);
      assert.equal(written.length, 8 * MiB, 'the backing file keeps its size');
      assert.equal(
        sha(written.subarray(0, disk.length)),
        sha(disk),
        'the device starts with the disk, zeros included',
      );
      assert.ok(
        written.subarray(disk.length).every((b) => b === LOOP_FILL),
        'the bytes past the disk are untouched',
      );
      assert.deepEqual(await temps(), [], 'no temp file beside the device');
    });
  });

  it('without --replace a block device is refused like an existing file, and left untouched', async () => {
    await withLoopDevice(join(tmp.dir, 'blk-keep'), 8 * MiB, async (node, backing) => {
      await assert.rejects(pull(node, false), (error: unknown) => {
        assert.ok(isOcipullError(error), String(error));
        assert.equal(error.code, 'OUTPUT_EXISTS');
        return true;
      });
      assert.ok(
        (await fsp.readFile(backing)).every((b) => b === LOOP_FILL),
        'nothing was written',
      );
    });
  });

  it('a device smaller than the disk is refused with OUTPUT_FAILED naming its size', async () => {
    await withLoopDevice(join(tmp.dir, 'blk-small'), 1 * MiB, async (node, backing) => {
      await assert.rejects(pull(node, true), (error: unknown) => {
        assert.ok(isOcipullError(error), String(error));
        assert.equal(error.code, 'OUTPUT_FAILED');
        assert.match(
          error.message,
          new RegExp(`${node}: the disk is larger than the ${MiB}-byte block device`),
        );
        return true;
      });
      const after = await fsp.readFile(backing);
      assert.equal(after.length, MiB, 'the backing file did not grow');
      assert.deepEqual(await temps(), []);
    });
  });
});
