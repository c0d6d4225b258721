/**
 * The figures of docs/reliability.md, kept honest: every case of the reliability suites is listed
 * in `CATALOG` (test/reliability/catalog.ts) with what it injects and how it must end, each test
 * calls `ran(id, observed)` with what it actually counted (faults the fake registry served, kills
 * sent, inputs refused), which must equal the catalog, and figures.test.ts checks that the doc is
 * exactly `renderDoc()` of the catalog and that every case id is used by a suite.
 */
import assert from 'node:assert/strict';
import { CATALOG, type ReliabilityCase, SUITES } from './catalog.js';

export interface Observed {
  faults?: number;
  kills?: number;
  refused?: number;
  /** Bytes of a verified result that differ from the original: always 0. */
  bytesLost?: number;
}

export function caseOf(id: string): ReliabilityCase {
  const found = CATALOG.find((c) => c.id === id);
  assert.ok(found, `case ${id} is not in test/reliability/catalog.ts`);
  return found;
}

/** Check what a case did against what the catalog (and so the doc) says it does. */
export function ran(id: string, observed: Observed): void {
  const c = caseOf(id);
  assert.equal(observed.faults ?? 0, c.faults ?? 0, `${id}: faults injected`);
  assert.equal(observed.kills ?? 0, c.kills ?? 0, `${id}: kills survived`);
  assert.equal(observed.refused ?? 0, c.refused ?? 0, `${id}: hostile inputs refused`);
  assert.equal(observed.bytesLost ?? 0, 0, `${id}: bytes lost`);
}

export interface Totals {
  cases: number;
  faults: number;
  kills: number;
  refused: number;
  bytesLost: number;
}

export function totals(cases: readonly ReliabilityCase[] = CATALOG): Totals {
  return {
    cases: cases.length,
    faults: cases.reduce((n, c) => n + (c.faults ?? 0), 0),
    kills: cases.reduce((n, c) => n + (c.kills ?? 0), 0),
    refused: cases.reduce((n, c) => n + (c.refused ?? 0), 0),
    bytesLost: 0,
  };
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** docs/reliability.md, generated from the catalog (`node dist/test/reliability/render.js`). */
export function renderDoc(): string {
  const all = totals();
  const lines: string[] = [
    '# Reliability and security',
    '',
    '<!-- Generated from test/reliability/catalog.ts by `node dist/test/reliability/render.js`;',
    '     test/reliability/figures.test.ts fails when this file and the suites disagree. -->',
    '',
    'The suites under `test/reliability/` attack pulls on purpose: network faults through the',
    'in-process fault-injecting registry (`test/support/fake-registry.ts`), SIGKILL at named points of',
    'a pull, concurrent pulls into one cache beside `cache prune`, hostile layers, documents and',
    'references, and a scan of every byte of output for credentials. Each case asserts its final',
    'state: a byte-identical disk, or its documented error code (docs/errors.md) with nothing at the',
    'output path and nothing unverified in the cache. Every count below is asserted by the test that',
    'ran it (`ran(id, observed)` in `test/reliability/figures.ts`).',
    '',
    '## Figures',
    '',
    '| | |',
    '|---|---|',
    `| cases | ${all.cases} |`,
    `| faults injected | ${all.faults} |`,
    `| kills survived | ${all.kills} |`,
    `| hostile inputs refused | ${all.refused} |`,
    `| bytes lost | ${all.bytesLost} |`,
    '',
    'Run them with `npx tsc -p . && node test/run.js test/reliability`.',
  ];
  for (const suite of SUITES) {
    const cases = CATALOG.filter((c) => c.suite === suite.id);
    const t = totals(cases);
    lines.push('', `## ${suite.title}`, '', suite.description, '');
    lines.push(
      `File: \`${suite.file}\`. Cases: ${t.cases}; faults ${t.faults}, kills ${t.kills}, refused ${t.refused}.`,
    );
    lines.push('', '| case | outcome | faults | kills | refused |', '|---|---|---:|---:|---:|');
    for (const c of cases) {
      lines.push(
        `| ${cell(c.title)} | ${cell(c.outcome)} | ${c.faults ?? 0} | ${c.kills ?? 0} | ${c.refused ?? 0} |`,
      );
    }
  }
  for (const extra of NOTES) lines.push('', ...extra);
  return `${lines.join('\n')}\n`;
}

const NOTES: string[][] = [
  [
    '## Limits these suites rely on',
    '',
    '- `maxExpansionRatio` (config, default 1000): decompression stops with `EXPANSION_LIMIT` once the',
    '  output passes this many bytes per byte of the layer; 0 turns the guard off.',
    "- Manifests and indexes (and an OCI layout's `index.json`) over 4 MiB are refused",
    '  (`MANIFEST_TOO_LARGE`); documents with duplicate JSON keys are refused (`MANIFEST_INVALID`).',
    '- Nested indexes are followed at most 4 levels deep, and an index met again on the way down is',
    '  refused (`INDEX_TOO_DEEP`).',
    "- A tar layer's entry name longer than 255 bytes is refused (`TAR_UNSAFE_PATH`); tar meta headers",
    '  over 4 MiB are refused (`TAR_INVALID`).',
    "- The registry transport's body timeout is `transports.docker.timeoutMs` (the fault suite uses 1 s).",
  ],
];
