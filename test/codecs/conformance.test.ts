/**
 * The built-in codecs run the shipped conformance kit (`ocipull/testkit/codec`, imported by its
 * package export path as a third-party codec package would), in each decoder mode they have.
 */
import { codecConformance, sh } from 'ocipull/testkit/codec';
import Bzip2CodecPlugin from '../../plugins/codec-bzip2/index.js';
import GzipCodecPlugin from '../../plugins/codec-gzip/index.js';
import XzCodecPlugin from '../../plugins/codec-xz/index.js';
import ZipCodecPlugin from '../../plugins/codec-zip/index.js';
import ZstdCodecPlugin from '../../plugins/codec-zstd/index.js';

type Mode = 'child' | 'inprocess';
const BOTH: Mode[] = ['child', 'inprocess'];

codecConformance({
  codec: 'zstd',
  modes: BOTH,
  plugin: (mode) => new ZstdCodecPlugin({ mode: mode as Mode }),
  compress: (src, dst) => sh('zstd', ['-q', '-f', '-3', src, '-o', dst]),
  concatenates: true,
});

codecConformance({
  codec: 'xz',
  modes: BOTH,
  plugin: (mode) => new XzCodecPlugin({ mode: mode as Mode }),
  // Several blocks (as `xz -T0` makes them), so the multi-threaded decoder has work to split.
  compress: (src, dst) => sh('sh', ['-c', 'xz -c -1 -T2 --block-size=1MiB "$1" > "$2"', 'xz', src, dst]),
  concatenates: true,
  // xz's tool tells garbage after a stream from damage no better than "corrupt" (docs/codecs.md).
  trailing: ['DECOMPRESS_TRAILING_DATA', 'DECOMPRESS_CORRUPT', 'DECOMPRESS_TRUNCATED'],
});

codecConformance({
  codec: 'gzip',
  modes: BOTH,
  plugin: (mode) => new GzipCodecPlugin({ mode: mode as Mode }),
  compress: (src, dst) => sh('sh', ['-c', 'gzip -c -6 "$1" > "$2"', 'gzip', src, dst]),
  concatenates: true,
});

codecConformance({
  codec: 'bzip2',
  modes: BOTH,
  plugin: (mode) => new Bzip2CodecPlugin({ mode: mode as Mode }),
  compress: (src, dst) => sh('sh', ['-c', 'bzip2 -c -9 "$1" > "$2"', 'bzip2', src, dst]),
  concatenates: true,
});

codecConformance({
  codec: 'zip',
  plugin: () => new ZipCodecPlugin(),
  compress: (src, dst) => sh('zip', ['-q', '-j', dst, src]),
  concatenates: false,
  // Bytes after the end-of-central-directory record are not looked at today (docs/codecs.md).
  trailing: false,
});
