import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Annotations,
  createLogger,
  type DiskRequest,
  isOcipullError,
  Orchestrator,
  type Selection,
} from 'ocipull';
import {
  FORMAT_OF,
  MemoryStore,
  MemoryTransport,
  PUBLISHED,
  putContainer,
  putDisk,
  putIndex,
  putMachineOs,
} from '../../test/selection/memory-source.js';
import DiskSelectPlugin from './index.js';

function setup(options: ConstructorParameters<typeof DiskSelectPlugin>[0] = {}) {
  const store = new MemoryStore();
  const orchestrator = new Orchestrator({ log: createLogger('silent') });
  orchestrator.use(new MemoryTransport(store)).use(new DiskSelectPlugin(options));
  async function select(tag: string, want: Partial<DiskRequest>): Promise<Selection> {
    const source = await orchestrator.openSource(`mem:${tag}`);
    const root = await orchestrator.load(source, source.root!);
    const request: DiskRequest = {
      diskType: 'qemu',
      os: 'linux',
      architecture: 'amd64',
      allowMissingTitle: false,
      ...want,
    };
    return orchestrator.select(source, root, request);
  }
  return { store, orchestrator, select };
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(isOcipullError(caught), `expected an OcipullError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

describe('disk-select: choosing the entry', () => {
  for (const nested of [false, true]) {
    for (const disk of PUBLISHED) {
      for (const arch of [disk.arch, disk.arch === 'x86_64' ? 'amd64' : 'arm64']) {
        it(`${nested ? 'nested ' : ''}${disk.diskType} asked as ${arch} gets the ${disk.arch} entry`, async () => {
          const { store, select } = setup();
          putMachineOs(store, 'v', { nested });
          const selection = await select('v', { diskType: disk.diskType, architecture: arch });
          assert.equal(selection.diskType, disk.diskType);
          assert.equal(selection.platform.architecture, disk.arch);
          assert.equal(selection.manifestDescriptor.annotations?.[Annotations.diskType], disk.diskType);
          assert.equal(
            selection.title,
            `podman-machine.${disk.arch}.${disk.diskType}.${FORMAT_OF[disk.diskType]}.zst`,
          );
          assert.equal(selection.format, FORMAT_OF[disk.diskType]);
          assert.equal(selection.codecHint, 'zstd');
          assert.equal(
            store.blobs.get(selection.layer.digest)?.toString(),
            `disk ${disk.diskType} ${disk.arch}`,
          );
        });
      }
    }
  }

  it('never takes a container image entry, even when its platform fits', async () => {
    const { store, select } = setup();
    store.tags.set('c', putIndex(store, [putContainer(store, 'amd64'), putContainer(store, 'arm64')]));
    const error = await rejectsWith(
      select('c', { diskType: 'qemu', architecture: 'amd64' }),
      'NO_MATCHING_DISK',
      /offers no disk/,
    );
    assert.match(error.message, /2 container image entries were skipped/);
  });

  it('lists every (disktype, os, architecture) offered when nothing fits', async () => {
    const { store, select } = setup();
    putMachineOs(store, 'v', { nested: true });
    const error = await rejectsWith(
      select('v', { diskType: 'applehv', architecture: 'x86_64' }),
      'NO_MATCHING_DISK',
    );
    for (const d of PUBLISHED)
      assert.ok(
        error.message.includes(`${d.diskType} linux/${d.arch}`),
        `${d.diskType}/${d.arch} listed: ${error.message}`,
      );
    assert.match(error.message, /no applehv linux\/x86_64 disk/);
    const data = (error as unknown as { data: { offered: unknown[] } }).data;
    assert.equal(data.offered.length, PUBLISHED.length);
  });

  it('matches os exactly', async () => {
    const { store, select } = setup();
    putMachineOs(store, 'v', {
      disks: [
        { diskType: 'qemu', arch: 'x86_64', os: 'freebsd' },
        { diskType: 'qemu', arch: 'x86_64' },
      ],
    });
    assert.equal((await select('v', { os: 'freebsd' })).platform.os, 'freebsd');
    assert.equal((await select('v', { os: 'linux' })).platform.os, 'linux');
    await rejectsWith(
      select('v', { os: 'windows' }),
      'NO_MATCHING_DISK',
      /qemu freebsd\/x86_64, qemu linux\/x86_64/,
    );
  });

  it('takes the first fitting entry in index order', async () => {
    const { store, select } = setup();
    const first = putDisk(store, { diskType: 'qemu', arch: 'x86_64', content: Buffer.from('first') });
    const second = putDisk(store, { diskType: 'qemu', arch: 'amd64', content: Buffer.from('second') });
    store.tags.set('v', putIndex(store, [first, second]));
    assert.equal((await select('v', {})).manifestDescriptor.digest, first.digest);
  });

  it('answers for extra disk types given in options, and only those', async () => {
    const { store, select, orchestrator } = setup({ diskTypes: ['libvirt'] });
    putMachineOs(store, 'v', { disks: [{ diskType: 'libvirt', arch: 'x86_64', title: 'x.qcow2.zst' }] });
    assert.equal((await select('v', { diskType: 'libvirt' })).diskType, 'libvirt');
    assert.deepEqual(orchestrator.diskTypes(), ['applehv', 'hyperv', 'libvirt', 'qemu', 'wsl']);
    await rejectsWith(select('v', { diskType: 'vbox' }), 'NO_SELECTOR');
  });

  it('refuses indexes nested deeper than maxDepth', async () => {
    const { store, select } = setup();
    let root = putMachineOs(store, 'inner');
    for (let i = 0; i < 6; i++) root = putIndex(store, [root]);
    store.tags.set('deep', root);
    await rejectsWith(select('deep', {}), 'INDEX_TOO_DEEP');
    const shallow = setup({ maxDepth: 8 });
    let r = putMachineOs(shallow.store, 'inner');
    for (let i = 0; i < 6; i++) r = putIndex(shallow.store, [r]);
    shallow.store.tags.set('deep', r);
    assert.equal((await shallow.select('deep', {})).diskType, 'qemu');
  });

  it('takes a manifest reference as the disk, checking its descriptor annotation when present', async () => {
    const { store, select } = setup();
    const entry = putDisk(store, { diskType: 'qemu', arch: 'x86_64' });
    store.tags.set('m', { mediaType: entry.mediaType, digest: entry.digest, size: entry.size });
    // No platform on the descriptor: the title (podman-machine.x86_64...) names the architecture.
    await rejectsWith(
      select('m', { diskType: 'qemu', architecture: 'arm64' }),
      'NO_MATCHING_DISK',
      /carries no platform and its title .* names amd64/,
    );
    const selection = await select('m', { diskType: 'qemu', architecture: 'amd64' });
    assert.equal(selection.manifestDescriptor.digest, entry.digest);
    assert.equal(selection.platform.architecture, 'amd64');
    store.tags.set('annotated', entry);
    await rejectsWith(
      select('annotated', { diskType: 'qemu', architecture: 'arm64' }),
      'NO_MATCHING_DISK',
      /qemu linux\/x86_64/,
    );
  });
});

describe('disk-select: artifact checks', () => {
  const cases: {
    name: string;
    disk: Parameters<typeof putDisk>[1];
    want?: Partial<DiskRequest>;
    code: string;
  }[] = [
    {
      name: 'two layers',
      disk: { diskType: 'qemu', arch: 'x86_64', layers: 2 },
      code: 'ARTIFACT_LAYER_COUNT',
    },
    { name: 'no layer', disk: { diskType: 'qemu', arch: 'x86_64', layers: 0 }, code: 'ARTIFACT_LAYER_COUNT' },
    { name: 'no title', disk: { diskType: 'qemu', arch: 'x86_64', title: null }, code: 'ARTIFACT_NO_TITLE' },
    {
      name: 'title is a path',
      disk: { diskType: 'qemu', arch: 'x86_64', title: '../x.qcow2.zst' },
      code: 'ARTIFACT_TITLE_INVALID',
    },
    {
      name: 'title is absolute',
      disk: { diskType: 'qemu', arch: 'x86_64', title: '/tmp/x.qcow2.zst' },
      code: 'ARTIFACT_TITLE_INVALID',
    },
    {
      name: 'title has no format',
      disk: { diskType: 'qemu', arch: 'x86_64', title: 'disk.zst' },
      code: 'ARTIFACT_TITLE_INVALID',
    },
    {
      name: 'title has no extension',
      disk: { diskType: 'qemu', arch: 'x86_64', title: 'disk' },
      code: 'ARTIFACT_TITLE_INVALID',
    },
    {
      name: 'title is empty',
      disk: { diskType: 'qemu', arch: 'x86_64', title: '' },
      code: 'ARTIFACT_TITLE_INVALID',
    },
    {
      name: 'invalid title even with --allow-missing-title',
      disk: { diskType: 'qemu', arch: 'x86_64', title: 'a\\b.qcow2.zst' },
      want: { allowMissingTitle: true },
      code: 'ARTIFACT_TITLE_INVALID',
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.code}`, async () => {
      const { store, select } = setup();
      putMachineOs(store, 'v', { disks: [c.disk] });
      await rejectsWith(select('v', { ...c.want }), c.code);
    });
  }

  it('--allow-missing-title takes the format from the preset', async () => {
    const { store, select } = setup();
    putMachineOs(store, 'v', { disks: [{ diskType: 'qemu', arch: 'x86_64', title: null }] });
    const selection = await select('v', { allowMissingTitle: true, format: 'qcow2' });
    assert.equal(selection.title, undefined);
    assert.equal(selection.format, 'qcow2');
    assert.equal(selection.codecHint, undefined);
  });

  it('accepts a title-less tar layer (the older one-file tar format names the file inside)', async () => {
    const { store, select } = setup();
    putMachineOs(store, 'v', {
      disks: [
        {
          diskType: 'qemu',
          arch: 'x86_64',
          title: null,
          layerMediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        },
      ],
    });
    const selection = await select('v', { format: 'qcow2' });
    assert.equal(selection.format, 'qcow2');
  });
});
