import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, isOcipullError, Orchestrator, type Plugin } from 'ocipull';

const quiet = () => createLogger('silent');

describe('orchestrator', () => {
  it('freezes its hooks', () => {
    const o = new Orchestrator({ log: quiet() });
    assert.ok(Object.isFrozen(o.hooks));
    assert.throws(() => {
      (o.hooks as unknown as Record<string, unknown>).resolve = null;
    });
  });

  it('wraps what a tap throws with the plugin and hook names', async () => {
    const o = new Orchestrator({ log: quiet() });
    o.hooks.resolve.for('boom').tapPromise('ocipull-plugin-boom', async () => {
      throw new Error('kaput');
    });
    await assert.rejects(o.openSource('boom:x'), (e: unknown) => {
      assert.ok(isOcipullError(e, 'PLUGIN_FAILED'));
      assert.equal(e.plugin, 'ocipull-plugin-boom');
      assert.equal(e.hook, 'resolve[boom]');
      assert.match(e.message, /kaput/);
      return true;
    });
  });

  it('names the plugin that would handle an unknown scheme', async () => {
    const o = new Orchestrator({ log: quiet() });
    o.hooks.resolve.for('docker').tap('x', () => undefined);
    await assert.rejects(o.openSource('s3://bucket/key'), (e: unknown) => {
      assert.ok(isOcipullError(e, 'NO_TRANSPORT'));
      assert.match(e.message, /"s3:"/);
      assert.match(e.hint ?? '', /ocipull-plugin-s3/);
      assert.match(e.hint ?? '', /docker:/);
      return true;
    });
  });

  it('refuses a source without a transport prefix and control characters', async () => {
    const o = new Orchestrator({ log: quiet() });
    await assert.rejects(o.openSource('just-a-name'), (e: unknown) => isOcipullError(e, 'REFERENCE_INVALID'));
    await assert.rejects(o.openSource('docker://a\u0007b'), (e: unknown) =>
      isOcipullError(e, 'REFERENCE_INVALID'),
    );
  });

  it('refuses a plugin applied twice and a plugin without apply', () => {
    const o = new Orchestrator({ log: quiet() });
    const plugin: Plugin = { name: 'p', apply: () => {} };
    o.use(plugin);
    assert.throws(
      () => o.use(plugin),
      (e: unknown) => isOcipullError(e, 'PLUGIN_DUPLICATE'),
    );
    assert.throws(
      () => o.use({ name: 'q' } as unknown as Plugin),
      (e: unknown) => isOcipullError(e, 'PLUGIN_INVALID'),
    );
    assert.deepEqual(o.plugins, ['p']);
  });

  it('lists the keys that have taps', () => {
    const o = new Orchestrator({ log: quiet() });
    o.hooks.resolve.for('b').tap('x', () => undefined);
    o.hooks.resolve.for('a').tap('x', () => undefined);
    o.hooks.resolve.for('unused');
    assert.deepEqual(o.transportSchemes(), ['a', 'b']);
  });

  it('redacts registered secrets from log lines', () => {
    const lines: string[] = [];
    const log = createLogger('debug', (l) => lines.push(l));
    log.redact('hunter2');
    log.debug('token=hunter2 sent');
    assert.deepEqual(lines, ['debug: token=*** sent\n']);
  });
});
