import { codecConformance, sh } from '../../test/support/codec.js';
import GzipCodecPlugin from './index.js';

codecConformance({
  codec: 'gzip',
  extension: 'gz',
  modes: ['child', 'inprocess'],
  plugin: (mode) => new GzipCodecPlugin({ mode: mode as 'child' | 'inprocess' }),
  compress: (src, dst) => sh('sh', ['-c', 'gzip -c -6 "$1" > "$2"', 'gzip', src, dst]),
  concatenates: true,
});
