/**
 * curl's low-speed rule end to end: a registry that trickles a blob fails the pull with TOO_SLOW
 * after lowSpeedTime, without reconnecting (a trickle is not a dropped connection).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exitCodeFor, isOcipullError } from 'ocipull';
import { FakeRegistry } from '../support/fake-registry.js';
import { tempDir } from '../support/paths.js';
import { exists, machineOsFixture, type PublishedDisk, registryOrchestrator, sha256File } from './helpers.js';

describe('docker:// low-speed rule (lowSpeedLimit / lowSpeedTime)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: PublishedDisk;
  let fake: FakeRegistry;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-low-speed-');
    disk = await machineOsFixture(tmp.dir);
    fake = await FakeRegistry.start({ layoutDir: disk.layout.layoutDir });
  });
  after(async () => {
    await fake.stop();
    await tmp.cleanup();
  });

  async function pull(docker: Record<string, unknown>) {
    n++;
    const orchestrator = await registryOrchestrator({
      cacheDir: join(tmp.dir, `cache-${n}`),
      transport: { settings: { docker } },
    });
    const output = join(tmp.dir, `out-${n}.qcow2`);
    const started = fake.requests.length;
    const outcome = await orchestrator
      .pull({ source: `docker://${fake.addr}/podman/machine-os:5.5`, output })
      .then(
        (result) => ({ result, error: undefined }),
        (error: unknown) => ({ result: undefined, error }),
      );
    return {
      ...outcome,
      output,
      blobRequests: fake.requests.slice(started).filter((r) => r.kind === 'blob'),
    };
  }

  it('fails a trickling blob with TOO_SLOW, naming the rule, and does not reconnect', async () => {
    // 512 bytes every 20 ms (~25 KB/s) on every blob request, far below a 100 MB/s limit.
    fake.inject({ match: 'blob', times: 1000, fault: { kind: 'slow', chunkBytes: 512, delayMs: 20 } });
    try {
      const { error, output, blobRequests } = await pull({ lowSpeedLimit: 100_000_000, lowSpeedTime: 1 });
      assert.ok(isOcipullError(error, 'TOO_SLOW'), String(error));
      assert.match(error.message, /below lowSpeedLimit 100000000 bytes\/s for lowSpeedTime 1 s/);
      assert.match(error.message, /^blob /);
      assert.match(error.hint ?? '', /transports\.docker\.lowSpeedLimit/);
      assert.equal(exitCodeFor(error.code), exitCodeFor('TIMEOUT'));
      assert.equal(blobRequests.length, 1, 'one blob request: the trickle was not retried');
      assert.equal(await exists(output), false, 'nothing at the output path');
    } finally {
      fake.clearFaults();
    }
  });

  it('lets the same trickle through with lowSpeedLimit 0', async () => {
    // The blob in ~100 chunks 20 ms apart: about 2 s of waiting, more than lowSpeedTime.
    const chunkBytes = Math.ceil(disk.blobSize / 100);
    fake.inject({ match: 'blob', times: 1000, fault: { kind: 'slow', chunkBytes, delayMs: 20 } });
    try {
      const { error, output, blobRequests } = await pull({ lowSpeedLimit: 0, lowSpeedTime: 1 });
      assert.equal(error, undefined);
      assert.equal(await sha256File(output), disk.qcow2Sha256);
      assert.equal(blobRequests.length, 1);
    } finally {
      fake.clearFaults();
    }
  });
});
