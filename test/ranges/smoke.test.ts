import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordingLogger, registryOrchestrator, sha256File } from '../registry/helpers.js';
import { FakeRegistry } from '../support/fake-registry.js';
import { tempDir } from '../support/paths.js';
import { RANGED, rangedFixture } from './helpers.js';

describe('smoke', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let fake: FakeRegistry;
  let disk: Awaited<ReturnType<typeof rangedFixture>>;
  before(async () => {
    tmp = await tempDir('ocipull-ranges-');
    disk = await rangedFixture(tmp.dir, 12);
    fake = await FakeRegistry.start({ layoutDir: disk.layout.layoutDir });
  });
  after(async () => {
    await fake.stop();
    await tmp.cleanup();
  });
  it('pulls', async () => {
    const { log, lines } = recordingLogger();
    const o = await registryOrchestrator({ cacheDir: join(tmp.dir, 'c'), ...RANGED }, log);
    const out = join(tmp.dir, 'o.qcow2');
    await o.pull({ source: `docker://${fake.addr}/podman/machine-os:5.5`, output: out });
    console.log(
      disk.blobSize,
      fake.of('blob').map((r) => r.headers.range),
    );
    console.log(lines.filter((l) => /range|stream/.test(l)).join('\n'));
    assert.equal(await sha256File(out), disk.qcow2Sha256);
  });
});
