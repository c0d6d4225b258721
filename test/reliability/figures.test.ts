/**
 * docs/reliability.md is the catalog rendered, and every catalog case is run by its suite (the
 * suites assert their observed counts against the catalog through `ran`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/paths.js';
import { CATALOG, SUITES } from './catalog.js';
import { renderDoc, totals } from './figures.js';

describe('reliability figures', () => {
  it('docs/reliability.md is rendered from the catalog (run node dist/test/reliability/render.js)', () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'reliability.md'), 'utf8');
    assert.equal(doc, renderDoc());
    assert.match(doc, /\| bytes lost \| 0 \|/);
  });

  it('every case is run by its suite file, exactly once, and ids are unique', () => {
    const ids = CATALOG.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length, 'unique ids');
    for (const suite of SUITES) {
      if (!CATALOG.some((c) => c.suite === suite.id)) continue;
      const source = readFileSync(join(repoRoot, suite.file), 'utf8');
      for (const c of CATALOG.filter((k) => k.suite === suite.id)) {
        // Each id is named once in its suite, where (or in the table from which) ran() is called with it.
        const named = source.split(`'${c.id}'`).length - 1;
        assert.ok(
          named === 1 && source.includes('ran('),
          `${suite.file} runs ${c.id} (named ${named} times)`,
        );
      }
    }
  });

  it('counts something in each kind', () => {
    const t = totals();
    assert.ok(t.refused > 0 && t.faults > 0 && t.kills > 0 && t.cases === CATALOG.length);
  });
});
