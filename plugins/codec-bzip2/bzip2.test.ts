import { codecConformance, sh } from '../../test/support/codec.js';
import Bzip2CodecPlugin from './index.js';

codecConformance({
  codec: 'bzip2',
  extension: 'bz2',
  modes: ['child', 'inprocess'],
  plugin: (mode) => new Bzip2CodecPlugin({ mode: mode as 'child' | 'inprocess' }),
  compress: (src, dst) => sh('sh', ['-c', 'bzip2 -c -9 "$1" > "$2"', 'bzip2', src, dst]),
  concatenates: true,
});
