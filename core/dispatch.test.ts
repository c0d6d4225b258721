import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callKeyed } from './dispatch.js';
import { OcipullError } from './errors/errors.js';
import { createHooks } from './hooks.js';
import type { Selection, SelectRequest } from './types.js';

const request = { want: { diskType: 'qemu' } } as unknown as SelectRequest;
const answer = { diskType: 'qemu' } as unknown as Selection;
const missing = () => new OcipullError('NO_SELECTOR', 'nobody selects qemu');

describe('callKeyed', () => {
  it('throws the typed error when no plugin tapped the key (asking for the key creates no tap)', async () => {
    const hooks = createHooks();
    hooks.select.for('other').tapPromise('p', async () => answer);
    await assert.rejects(callKeyed(hooks.select, 'qemu', request, missing), {
      code: 'NO_SELECTOR',
      message: 'nobody selects qemu',
    });
    await assert.rejects(callKeyed(hooks.select, 'qemu', request, missing), { code: 'NO_SELECTOR' });
  });

  it("returns the first tap's answer", async () => {
    const hooks = createHooks();
    hooks.select.for('qemu').tapPromise('a', async () => undefined);
    hooks.select.for('qemu').tapPromise('b', async (r) => ({ ...answer, title: r.want.diskType }));
    assert.deepEqual(await callKeyed(hooks.select, 'qemu', request, missing), { ...answer, title: 'qemu' });
  });

  it('throws `unanswered` (else `missing`) when every tap passed', async () => {
    const hooks = createHooks();
    hooks.select.for('qemu').tapPromise('a', async () => undefined);
    await assert.rejects(callKeyed(hooks.select, 'qemu', request, missing), { code: 'NO_SELECTOR' });
    await assert.rejects(
      callKeyed(hooks.select, 'qemu', request, missing, () => new OcipullError('NO_CODEC', 'no answer')),
      { code: 'NO_CODEC', message: 'no answer' },
    );
  });

  it("a tap's failure names its plugin and hook", async () => {
    const hooks = createHooks();
    hooks.select.for('qemu').tapPromise('ocipull-plugin-x', async () => {
      throw new Error('boom');
    });
    await assert.rejects(callKeyed(hooks.select, 'qemu', request, missing), (error: OcipullError) => {
      assert.equal(error.plugin, 'ocipull-plugin-x');
      assert.equal(error.hook, 'select[qemu]');
      return true;
    });
  });
});
