import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { runtimeSettings } from '../../plugins/kind-rootfs/runtime.js';
import { tempDir } from '../support/paths.js';
import { layoutLayers, umociImage } from '../support/umoci.js';

describe('runtime settings of an image config', () => {
  it('reads what umoci config wrote (entrypoint, cmd, env, working dir, user, ports, volumes, labels, stop signal)', async () => {
    const { dir, cleanup } = await tempDir('ocipull-runtime-');
    try {
      const layout = umociImage(dir, ['true']);
      const image = `${layout}:test`;
      execFileSync('umoci', [
        'config',
        '--image',
        image,
        '--config.entrypoint=/bin/app',
        '--config.entrypoint=--serve',
        '--config.cmd=--port=80',
        '--config.env=PATH=/usr/bin:/bin',
        '--config.env=MODE=prod',
        '--config.workingdir=/srv',
        '--config.user=1000:1000',
        '--config.exposedports=80/tcp',
        '--config.exposedports=53/udp',
        '--config.volume=/data',
        '--config.label=org.example.role=web',
        '--config.stopsignal=SIGQUIT',
      ]);
      const { config } = await layoutLayers(layout);
      const settings = runtimeSettings(config);
      // Ports come in the config's object order; which order umoci writes is its business.
      assert.deepEqual([...settings.exposedPorts].sort(), ['53/udp', '80/tcp']);
      assert.deepEqual(settings, {
        entrypoint: ['/bin/app', '--serve'],
        cmd: ['--port=80'],
        env: ['PATH=/usr/bin:/bin', 'MODE=prod'],
        workingDir: '/srv',
        user: '1000:1000',
        exposedPorts: settings.exposedPorts,
        volumes: ['/data'],
        labels: { 'org.example.role': 'web' },
        stopSignal: 'SIGQUIT',
      });
    } finally {
      await cleanup();
    }
  });

  it('a config without a config object gives empty settings; a port without protocol is tcp', () => {
    assert.deepEqual(runtimeSettings({ architecture: 'amd64', os: 'linux' }), {
      entrypoint: [],
      cmd: [],
      env: [],
      workingDir: '',
      user: '',
      exposedPorts: [],
      volumes: [],
      labels: {},
      stopSignal: '',
    });
    assert.deepEqual(runtimeSettings({ config: { ExposedPorts: { '8080': {} } } }).exposedPorts, [
      '8080/tcp',
    ]);
  });

  for (const [config, key] of [
    [{ Cmd: 'sh -c x' }, 'Cmd'],
    [{ Env: [1] }, 'Env'],
    [{ User: 0 }, 'User'],
    [{ ExposedPorts: ['80'] }, 'ExposedPorts'],
    [{ Labels: { a: 1 } }, 'Labels'],
  ] as const) {
    it(`a malformed config.${key} is MANIFEST_INVALID naming the field`, () => {
      assert.throws(
        () => runtimeSettings({ config }),
        (e) => isOcipullError(e, 'MANIFEST_INVALID') && (e as Error).message.includes(`config.${key}`),
      );
    });
  }
});
