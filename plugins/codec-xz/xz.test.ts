import { codecConformance, sh } from '../../test/support/codec.js';
import XzCodecPlugin from './index.js';

codecConformance({
  codec: 'xz',
  extension: 'xz',
  modes: ['child', 'inprocess'],
  plugin: (mode) => new XzCodecPlugin({ mode: mode as 'child' | 'inprocess' }),
  // Several blocks (as `xz -T0` makes them), so the multi-threaded decoder has work to split.
  compress: (src, dst) => sh('sh', ['-c', 'xz -c -1 -T2 --block-size=1MiB "$1" > "$2"', 'xz', src, dst]),
  concatenates: true,
});
