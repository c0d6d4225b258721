/**
 * Write docs/reliability.md from the catalog: `npx tsc -p . && node dist/test/reliability/render.js`.
 * figures.test.ts fails when the doc and the catalog (and so the suites) disagree.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';
import { renderDoc } from './figures.js';

const path = join(repoRoot, 'docs', 'reliability.md');
writeFileSync(path, renderDoc());
console.log(`wrote ${path}`);
