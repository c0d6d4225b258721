import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CODES, EXIT, OcipullError, wrapPluginError } from 'ocipull';
import { repoRoot } from '../support/paths.js';

describe('error codes', () => {
  it('every code is documented in docs/errors.md with its exit status', async () => {
    const doc = await readFile(join(repoRoot, 'docs', 'errors.md'), 'utf8');
    const missing = Object.entries(CODES).filter(
      ([code, info]) => !new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${info.exit}\\s*\\|`).test(doc),
    );
    assert.deepEqual(
      missing.map(([code]) => code),
      [],
      'codes missing from docs/errors.md (rows like | `CODE` | exit | summary |)',
    );
  });

  it('every code exits with the status written out here (a second, independent record)', () => {
    // Exit statuses are a contract with scripts (docs/cli.md): a code added to or moved in
    // core/errors/codes.ts must be added here too, with the status its class has.
    const expected: Record<string, number> = {};
    const byStatus: [number, string][] = [
      [1, 'INTERNAL PLUGIN_FAILED'],
      [
        2,
        'USAGE CONFIG_INVALID CONFIG_LOAD_FAILED PRESET_NOT_FOUND PRESET_INVALID PRESET_CYCLE PLUGIN_NOT_FOUND PLUGIN_INVALID PLUGIN_DUPLICATE NO_TRANSPORT NO_SELECTOR NO_KIND NO_CACHE REFERENCE_INVALID TAG_INVALID INSECURE_REFUSED PACK_INPUT_INVALID TREE_INPUT_INVALID LAYER_CODEC_UNSUPPORTED IMAGE_CONFIG_INVALID ROOTFS_OPTION_INVALID',
      ],
      [
        3,
        'TAG_NOT_FOUND MANIFEST_NOT_FOUND NAME_UNKNOWN BLOB_NOT_FOUND LAYOUT_MISSING OFFLINE NO_MATCHING_DISK NO_MATCHING_PLATFORM NO_MATCHING_KERNEL',
      ],
      [4, 'UNAUTHORIZED DENIED'],
      [5, 'DIGEST_MISMATCH SIZE_MISMATCH CACHE_CORRUPT'],
      [
        6,
        'TOO_MANY_REQUESTS SERVER_ERROR NETWORK TIMEOUT TLS UNEXPECTED_RESPONSE TRUNCATED PUSH_FAILED PROXY TOO_SLOW RETRY_AFTER_TOO_LONG',
      ],
      [
        7,
        'NO_UNPACKER NO_CODEC LAYOUT_VERSION_UNSUPPORTED LAYOUT_INDEX_INVALID MANIFEST_INVALID MANIFEST_TOO_LARGE MEDIA_TYPE_UNSUPPORTED INDEX_TOO_DEEP DIGEST_INVALID ARTIFACT_LAYER_COUNT ARTIFACT_NO_TITLE ARTIFACT_TITLE_INVALID TAR_MULTIPLE_ENTRIES TAR_ENTRY_NOT_REGULAR TAR_UNSAFE_PATH TAR_EMPTY TAR_INVALID DECOMPRESS_CORRUPT DECOMPRESS_TRUNCATED CODEC_MISMATCH EXPANSION_LIMIT UNSUPPORTED DECOMPRESS_TRAILING_DATA DISK_FORMAT_MISMATCH INDEX_TOO_LARGE LAYOUT_FILE_INVALID OUTPUT_NAME_INVALID LAYER_UNSAFE_PATH LAYER_INVALID LAYER_SIZE_LIMIT LAYER_ENTRY_LIMIT KERNEL_PACKAGE_INVALID MANIFEST_SCHEMA1 LAYER_NOT_DISTRIBUTABLE',
      ],
      [8, 'OUTPUT_EXISTS OUTPUT_FAILED CACHE_FAILED TAG_CONFLICT OUTPUT_NOT_FILE ROOTFS_OUTPUT_FAILED'],
      [130, 'INTERRUPTED'],
    ];
    for (const [status, codes] of byStatus) for (const code of codes.split(' ')) expected[code] = status;
    const actual = Object.fromEntries(Object.entries(CODES).map(([code, info]) => [code, info.exit]));
    assert.deepEqual(actual, expected);
    // And the named classes are the numbers docs/cli.md gives.
    assert.deepEqual(
      { ...EXIT },
      {
        OK: 0,
        FAILURE: 1,
        USAGE: 2,
        NOT_FOUND: 3,
        AUTH: 4,
        INTEGRITY: 5,
        NETWORK: 6,
        FORMAT: 7,
        OUTPUT: 8,
        INTERRUPTED: 130,
      },
    );
  });

  it('keeps the code of an OcipullError a plugin throws and adds the names', () => {
    const wrapped = wrapPluginError(
      new OcipullError('BLOB_NOT_FOUND', 'gone'),
      'ocipull-plugin-x',
      'fetch[x]',
    );
    assert.equal(wrapped.code, 'BLOB_NOT_FOUND');
    assert.equal(wrapped.plugin, 'ocipull-plugin-x');
    assert.equal(wrapped.hook, 'fetch[x]');
    assert.equal(wrapped.exitCode, EXIT.NOT_FOUND);
  });

  it('turns anything else into PLUGIN_FAILED naming plugin and hook', () => {
    const wrapped = wrapPluginError(new TypeError('boom'), 'ocipull-plugin-y', 'select[qemu]');
    assert.equal(wrapped.code, 'PLUGIN_FAILED');
    assert.match(wrapped.message, /ocipull-plugin-y.*select\[qemu\].*boom/);
    assert.ok(wrapped.cause instanceof TypeError);
  });
});
