/**
 * Bench cases of issue 19 points 2 and 3 (run by bench.ts):
 * - no tools: ocipull's pull of the qcow2.zst and qcow2.xz with a PATH that holds neither `zstd`
 *   nor `xz` (decoding in worker threads) against the same pull with the tools;
 * - multi-frame: the qcow2 packed by `ocipull pack --compress zstd` (8 MiB frames and a seek
 *   table) against the one-frame `zstd -T0 -14` file, both pulled from a warm cache (decode only).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../support/paths.js';
import { type Measured, measure, sameFile, summarize } from './measure.js';

export interface ZstdBenchContext {
  address: string;
  diskDir: string;
  scratch: string;
  runs: number;
  log(message: string): void;
}

export interface ZstdBenchRow {
  case: string;
  baseline: string;
  candidate: string;
  results: Record<string, Measured>;
  goal: string;
}

async function timed(
  ctx: ZstdBenchContext,
  argv: string[],
  out: string,
  reference: string,
  before: () => Promise<void>,
): Promise<Measured> {
  const samples = [];
  for (let i = 0; i < ctx.runs; i++) {
    await before();
    const sample = await measure(argv, {});
    if (sample.status !== 0) throw new Error(`${argv.join(' ')} failed (${sample.status}): ${sample.stderr}`);
    if (i === 0 && !(await sameFile(out, reference))) throw new Error(`${argv.join(' ')}: output differs`);
    samples.push(sample);
  }
  const result = summarize(samples, existsSync(out) ? (await fsp.stat(out)).blocks * 512 : 0);
  ctx.log(`  median ${result.median.toFixed(2)} s, peak RSS ${result.peakRssMB} MB`);
  return result;
}

function pullArgs(reference: string, out: string, cache: string): string[] {
  return [
    cliPath,
    'pull',
    reference,
    '--preset',
    'qemu',
    '--arch',
    'x86_64',
    '-o',
    out,
    '--cache-dir',
    cache,
    '--progress',
    'none',
    '-q',
  ];
}

export async function zstdBenchCases(ctx: ZstdBenchContext, only?: RegExp): Promise<ZstdBenchRow[]> {
  const rows: ZstdBenchRow[] = [];
  const emptyBin = join(ctx.scratch, 'no-tools-bin');
  await fsp.mkdir(emptyBin, { recursive: true });
  const out = join(ctx.scratch, 'out-zstd-cases');
  const cache = join(ctx.scratch, 'cache-zstd-cases');
  const reference = join(ctx.diskDir, 'disk.qcow2');
  const fresh = async () => {
    await fsp.rm(out, { force: true });
    await fsp.rm(cache, { recursive: true, force: true });
  };
  for (const [name, tag] of [
    ['no tools: qcow2.zst', '5.5'],
    ['no tools: qcow2.xz', '5.5-xz'],
  ] as const) {
    if (only && !only.test(name)) continue;
    const ref = `docker://${ctx.address}/podman/machine-os:${tag}`;
    ctx.log(`${name}: with the tools`);
    const tools = await timed(ctx, [process.execPath, ...pullArgs(ref, out, cache)], out, reference, fresh);
    ctx.log(`${name}: PATH without zstd/xz`);
    const none = await timed(
      ctx,
      ['env', `PATH=${emptyBin}`, process.execPath, ...pullArgs(ref, out, cache)],
      out,
      reference,
      fresh,
    );
    rows.push({
      case: name,
      baseline: 'tools',
      candidate: 'no tools',
      results: { tools, 'no tools': none },
      goal: name.endsWith('zst') ? '≤ 1.25' : 'none (RSS ≤ 150 MB)',
    });
  }
  const name = 'multi-frame: qcow2.zst from a warm cache';
  if (!only || only.test(name)) {
    // One frame: the make-disk file (zstd -T0 -14) in its layout; many: the same disk packed.
    const single = `oci:${join(ctx.diskDir, 'machine-os.oci')}:5.5`;
    const packedDir = join(ctx.scratch, 'packed-multiframe');
    if (!existsSync(join(packedDir, 'index.json'))) {
      ctx.log(`${name}: packing ${reference} with ocipull pack --compress zstd`);
      execFileSync(process.execPath, [
        cliPath,
        'pack',
        `oci-dir:${packedDir}:5.5`,
        '--arch',
        'x86_64',
        '--disk',
        `qemu=${reference}`,
        '--compress',
        'zstd',
      ]);
    }
    const multi = `oci-dir:${packedDir}:5.5`;
    const results: Record<string, Measured> = {};
    for (const [label, ref] of [
      ['one frame', single],
      ['8 MiB frames', multi],
    ] as const) {
      await fresh();
      ctx.log(`${name}: ${label} (warming the cache)`);
      execFileSync(process.execPath, pullArgs(ref, out, cache));
      results[label] = await timed(
        ctx,
        [process.execPath, ...pullArgs(ref, out, cache)],
        out,
        reference,
        () => fsp.rm(out, { force: true }),
      );
    }
    await fresh();
    rows.push({
      case: name,
      baseline: 'one frame',
      candidate: '8 MiB frames',
      results,
      goal: '≤ 0.625 (1.6× faster)',
    });
  }
  return rows;
}

export function renderZstdRows(rows: ZstdBenchRow[]): string {
  const lines = [
    '| case | baseline | candidate | candidate / baseline (goal) | peak RSS baseline / candidate (goal ≤ 150 MB) |',
    '| --- | --- | --- | --- | --- |',
  ];
  const cell = (m: Measured) => `${m.median.toFixed(2)} s (${m.min.toFixed(2)}–${m.max.toFixed(2)})`;
  for (const row of rows) {
    const b = row.results[row.baseline]!;
    const c = row.results[row.candidate]!;
    lines.push(
      `| ${row.case} | ${row.baseline}: ${cell(b)} | ${row.candidate}: ${cell(c)} | ${(c.median / b.median).toFixed(2)} (${row.goal}) | ${b.peakRssMB} / ${c.peakRssMB} MB |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
