import assert from 'node:assert/strict';
import { addAbortSignal, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  type BlobCache,
  createLogger,
  isOcipullError,
  OcipullError,
  Orchestrator,
  type Plugin,
} from 'ocipull';

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

  it('names the plugin when a method of the BlobCache it answered with fails', async () => {
    class Writer {
      readonly offset = 0;
      write(_chunk: Buffer): Promise<void> {
        throw new Error('disk on fire');
      }
    }
    class Cache {
      readonly dir = '/nowhere';
      #opened = 0;
      async open() {
        this.#opened += 1;
        if (this.#opened > 1) throw new OcipullError('CACHE_FAILED', 'second open refused');
        return { kind: 'miss' as const, writer: new Writer() };
      }
      async peek() {
        throw new Error('EACCES: permission denied');
      }
    }
    const o = new Orchestrator({ log: quiet() });
    o.hooks.cache.tapPromise('ocipull-plugin-odd-cache', async () => new Cache() as unknown as BlobCache);
    const cache = (await o.getCache())!;
    assert.ok(cache instanceof Cache, 'instanceof still holds');
    assert.equal(cache.dir, '/nowhere');
    const descriptor = { mediaType: 'application/octet-stream', digest: `sha256:${'0'.repeat(64)}`, size: 1 };
    await assert.rejects(cache.peek(descriptor), (e: unknown) => {
      assert.ok(isOcipullError(e, 'PLUGIN_FAILED'));
      assert.equal(e.plugin, 'ocipull-plugin-odd-cache');
      assert.equal(e.hook, 'cache.peek');
      assert.match(e.message, /EACCES/);
      return true;
    });
    // Methods run on the plugin's own object: its private fields work.
    const handle = await cache.open(descriptor, { source: 'odd:thing' });
    assert.equal(handle.kind, 'miss');
    if (handle.kind !== 'miss') return;
    assert.equal(handle.writer.offset, 0);
    assert.throws(
      () => handle.writer.write(Buffer.from('x')),
      (e: unknown) => {
        assert.ok(isOcipullError(e, 'PLUGIN_FAILED'));
        assert.equal(e.plugin, 'ocipull-plugin-odd-cache');
        assert.equal(e.hook, 'cache.open→writer.write');
        return true;
      },
    );
    // An OcipullError keeps its code and gains the names.
    await assert.rejects(cache.open(descriptor, { source: 'odd:thing' }), (e: unknown) => {
      assert.ok(isOcipullError(e, 'CACHE_FAILED'));
      assert.equal(e.plugin, 'ocipull-plugin-odd-cache');
      assert.equal(e.hook, 'cache.open');
      return true;
    });
  });

  it('names the plugin when a method of the Source it resolved fails; streams pass untouched', async () => {
    const stream = Readable.from(['bytes']);
    class OddSource {
      readonly scheme = 'odd';
      readonly reference = 'odd:thing';
      body() {
        return stream;
      }
      async listTags(): Promise<string[]> {
        throw new TypeError('undefined is not a function');
      }
    }
    const o = new Orchestrator({ log: quiet() });
    o.hooks.resolve.for('odd').tapPromise('ocipull-plugin-odd', async () => new OddSource());
    const source = (await o.openSource('odd:thing')) as unknown as OddSource;
    assert.ok(source instanceof OddSource);
    assert.equal(source.reference, 'odd:thing');
    assert.equal(source.body(), stream, 'a stream result is the very stream');
    await assert.rejects(source.listTags(), (e: unknown) => {
      assert.ok(isOcipullError(e, 'PLUGIN_FAILED'));
      assert.equal(e.plugin, 'ocipull-plugin-odd');
      assert.equal(e.hook, 'resolve[odd].listTags');
      return true;
    });
  });

  it('a body opened while the run was aborting is destroyed quietly: the abort reason, nothing uncaught', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const o = new Orchestrator({ log: quiet() });
      const controller = new AbortController();
      // A transport that ties its body to the signal (as oci-dir does), opened just as the run aborts.
      o.hooks.fetch.for('slow').tapPromise('ocipull-plugin-slow', async (request) => {
        controller.abort(new OcipullError('DECOMPRESS_CORRUPT', 'the decoder failed meanwhile'));
        return { body: addAbortSignal(request.signal, Readable.from([Buffer.from('bytes')])), offset: 0 };
      });
      const source = { scheme: 'slow', reference: 'slow:x' };
      const descriptor = {
        mediaType: 'application/octet-stream',
        digest: `sha256:${'1'.repeat(64)}`,
        size: 5,
      };
      await assert.rejects(o.fetchRaw(source, descriptor, 0, controller.signal), (e: unknown) =>
        isOcipullError(e, 'DECOMPRESS_CORRUPT'),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(uncaught, []);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
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
