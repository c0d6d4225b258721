import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, isOcipullError, Orchestrator, type Settings } from 'ocipull';
import { MemoryStore, MemoryTransport } from './memory-source.js';

/** Run a pull that stops at resolve (the fake docker transport knows no tag) and return what it was asked. */
async function resolveRequestOf(settings: Partial<Settings>, source?: string) {
  const transport = new MemoryTransport(new MemoryStore(), 'docker');
  const orchestrator = new Orchestrator({ log: createLogger('silent'), settings });
  orchestrator.use(transport);
  await assert.rejects(orchestrator.pull({ source, output: `${process.cwd()}/` }), (error) =>
    isOcipullError(error),
  );
  assert.equal(transport.resolved.length, 1);
  return transport.resolved[0]!;
}

describe('default endpoint', () => {
  it('pull without SOURCE resolves the configured default, tagged <major>.<minor> of machineOsVersion', async () => {
    const request = await resolveRequestOf({});
    assert.equal(request.ref.raw, 'docker://quay.io/podman/machine-os');
    assert.equal(request.ref.scheme, 'docker');
    assert.equal(request.options.defaultTag, '5.5');
    assert.equal(request.purpose, 'pull');
  });

  it('machineOsVersion 5.6.2 gives the default tag 5.6', async () => {
    const request = await resolveRequestOf({ machineOsVersion: '5.6.2' });
    assert.equal(request.options.defaultTag, '5.6');
  });

  it('defaultSource is configurable', async () => {
    const request = await resolveRequestOf({ defaultSource: 'docker://registry.example/machine/os' });
    assert.equal(request.ref.raw, 'docker://registry.example/machine/os');
  });

  it('an explicit transport defaultTag wins over machineOsVersion', async () => {
    const request = await resolveRequestOf({ transport: { defaultTag: 'stable' } });
    assert.equal(request.options.defaultTag, 'stable');
  });

  it('an explicit SOURCE is passed as written (tag and digest references stay untouched)', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    for (const source of [
      'docker://quay.io/podman/machine-os:5.4',
      `docker://quay.io/podman/machine-os@${digest}`,
    ]) {
      const request = await resolveRequestOf({}, source);
      assert.equal(request.ref.raw, source);
    }
  });
});
