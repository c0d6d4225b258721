import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOcipullError } from '../errors/errors.js';
import { decoderCommand } from './decoder.js';

describe('decoderCommand', () => {
  const missing = 'ocipull-no-such-decoder';

  it('mode child with no tool on PATH is NO_CODEC, naming the package to install', () => {
    assert.throws(
      () => decoderCommand({ mode: 'child' }, 'xz', missing, 'xz-utils'),
      (e: unknown) => {
        assert.ok(isOcipullError(e, 'NO_CODEC'));
        assert.match(e.message, /xz mode is "child" but no ocipull-no-such-decoder executable/);
        assert.match(e.hint ?? '', /install xz-utils/);
        return true;
      },
    );
  });

  it('auto falls back to in process without the tool; inprocess never looks; command wins', () => {
    assert.equal(decoderCommand({ mode: 'auto' }, 'zstd', missing), undefined);
    assert.equal(decoderCommand({ mode: 'inprocess', command: '/bin/true' }, 'zstd', 'sh'), undefined);
    assert.equal(decoderCommand({ mode: 'child', command: '/opt/zstd' }, 'zstd', missing), '/opt/zstd');
    assert.match(decoderCommand({}, 'gzip', 'sh') ?? '', /\/sh$/);
  });
});
