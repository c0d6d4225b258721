import { codecConformance, sh } from '../../test/support/codec.js';
import ZstdCodecPlugin from './index.js';

codecConformance({
  codec: 'zstd',
  extension: 'zst',
  modes: ['child', 'inprocess'],
  plugin: (mode) => new ZstdCodecPlugin({ mode: mode as 'child' | 'inprocess' }),
  compress: (src, dst) => sh('zstd', ['-q', '-f', '-3', src, '-o', dst]),
  concatenates: true,
});
