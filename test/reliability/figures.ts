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
  pulls?: number;
  downloads?: number;
  inputs?: number;
  scanned?: number;
  /** Bytes of a verified result that differ from the original: always 0. */
  bytesLost?: number;
}

type Count = 'faults' | 'kills' | 'refused' | 'pulls' | 'downloads' | 'inputs' | 'scanned';
/** The counts every case has (always shown) and those only some suites count (shown where used). */
const ALWAYS: Count[] = ['faults', 'kills', 'refused'];
const EXTRA: { key: Count; total: string }[] = [
  { key: 'pulls', total: 'concurrent pulls byte-identical' },
  { key: 'downloads', total: 'blob downloads (of those pulls)' },
  { key: 'inputs', total: 'generated inputs checked' },
  { key: 'scanned', total: 'outputs scanned for secrets' },
];
const HEADS: Record<Count, string> = {
  faults: 'faults',
  kills: 'kills',
  refused: 'refused',
  pulls: 'pulls',
  downloads: 'blob downloads',
  inputs: 'inputs checked',
  scanned: 'outputs scanned',
};

export function caseOf(id: string): ReliabilityCase {
  const found = CATALOG.find((c) => c.id === id);
  assert.ok(found, `case ${id} is not in test/reliability/catalog.ts`);
  return found;
}

/** Check what a case did against what the catalog (and so the doc) says it does. */
export function ran(id: string, observed: Observed): void {
  const c = caseOf(id);
  for (const key of [...ALWAYS, ...EXTRA.map((e) => e.key)])
    assert.equal(observed[key] ?? 0, c[key] ?? 0, `${id}: ${HEADS[key]} counted`);
  assert.equal(observed.bytesLost ?? 0, 0, `${id}: bytes lost`);
}

export type Totals = Record<Count, number> & { cases: number; bytesLost: number };

export function totals(cases: readonly ReliabilityCase[] = CATALOG): Totals {
  const sum = (key: Count) => cases.reduce((n, c) => n + (c[key] ?? 0), 0);
  return {
    cases: cases.length,
    faults: sum('faults'),
    kills: sum('kills'),
    refused: sum('refused'),
    pulls: sum('pulls'),
    downloads: sum('downloads'),
    inputs: sum('inputs'),
    scanned: sum('scanned'),
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
    ...EXTRA.map((e) => `| ${e.total} | ${all[e.key]} |`),
    `| bytes lost | ${all.bytesLost} |`,
    '',
    'Run them with `npx tsc -p . && node test/run.js test/reliability`.',
  ];
  for (const suite of SUITES) {
    const cases = CATALOG.filter((c) => c.suite === suite.id);
    const t = totals(cases);
    lines.push('', `## ${suite.title}`, '', suite.description, '');
    const keys = [...ALWAYS, ...EXTRA.map((e) => e.key).filter((k) => t[k] > 0)];
    lines.push(
      `File: \`${suite.file}\`. Cases: ${t.cases}; ${keys.map((k) => `${HEADS[k]} ${t[k]}`).join(', ')}.`,
    );
    lines.push(
      '',
      `| case | outcome | ${keys.map((k) => HEADS[k]).join(' | ')} |`,
      `|---|---|${keys.map(() => '---:|').join('')}`,
    );
    for (const c of cases) {
      lines.push(`| ${cell(c.title)} | ${cell(c.outcome)} | ${keys.map((k) => c[k] ?? 0).join(' | ')} |`);
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
