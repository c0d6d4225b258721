/** The tar header encoder the tar output shares with the tree exporter (plugins/tree-layer/tar.ts). */
export { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from '../tree-layer/tar.js';
