/**
 * `npm run bench`: ocipull's pull against the podman-equivalent pipeline and the streaming lower
 * bound, on a realistic disk served by a real local registry (../shared/bench scripts).
 *
 * Environment: OCIPULL_BENCH_DIR (default $TMPDIR/ocipull-bench: disk, registry, results are kept
 * and reused), OCIPULL_BENCH_SIZE (raw disk size, default 2G), OCIPULL_BENCH_RUNS (default 3),
 * OCIPULL_BENCH_ONLY (regex over case names), OCIPULL_BENCH_KEEP_REGISTRY=1 (leave it running).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchDir, cliPath } from '../support/paths.js';
import { renderZstdRows, zstdBenchCases } from './cases-zstd.js';
import { type Measured, measure, sameFile, summarize } from './measure.js';
import { renderWideArea, runWideArea, type WideAreaResult } from './wide-area.js';

const work = process.env.OCIPULL_BENCH_DIR ?? join(tmpdir(), 'ocipull-bench');
const size = process.env.OCIPULL_BENCH_SIZE ?? '2G';
const runs = Number(process.env.OCIPULL_BENCH_RUNS ?? 3);
const only = process.env.OCIPULL_BENCH_ONLY ? new RegExp(process.env.OCIPULL_BENCH_ONLY) : undefined;
const diskDir = join(work, 'disk');
const registryDir = join(work, 'registry');
const scratch = join(work, 'scratch');

interface PublishedDisk {
  disktype: string;
  architecture: string;
  manifest: string;
  blob: string;
  size: number;
  file: string;
}

interface Case {
  name: string;
  tag: string;
  preset: string;
  disktype: string;
  decoder: 'zstd' | 'xz';
}

const CASES: Case[] = [
  { name: 'qcow2.zst', tag: '5.5', preset: 'qemu', disktype: 'qemu', decoder: 'zstd' },
  { name: 'raw.zst (sparse)', tag: '5.5', preset: 'applehv', disktype: 'applehv', decoder: 'zstd' },
  { name: 'qcow2.xz', tag: '5.5-xz', preset: 'qemu', disktype: 'qemu', decoder: 'xz' },
];

function script(name: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(join(benchDir, name), args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
  });
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

async function main(): Promise<void> {
  await fsp.mkdir(scratch, { recursive: true });
  log(`disk in ${diskDir} (${size}; built once, then reused)`);
  script('make-disk.sh', [diskDir, size]);
  const address = script('registry.sh', ['start', registryDir, 'auto']).trim().split('\n').pop()!;
  log(`registry at ${address}`);
  try {
    const published: Record<string, PublishedDisk[]> = {};
    published['5.5'] = JSON.parse(script('publish-machine-os.sh', [diskDir, address, '--tag', '5.5'])).disks;
    published['5.5-xz'] = JSON.parse(
      script('publish-machine-os.sh', [diskDir, address, '--tag', '5.5-xz', '--codec', 'xz', '--no-image']),
    ).disks;
    const rows: Array<{ case: Case; disk: PublishedDisk; results: Record<string, Measured> }> = [];
    for (const c of CASES) {
      if (only && !only.test(c.name)) continue;
      const disk = published[c.tag]!.find((d) => d.disktype === c.disktype && d.architecture === 'x86_64');
      if (!disk) throw new Error(`${c.tag} has no ${c.disktype} x86_64 disk`);
      rows.push({ case: c, disk, results: await runCase(c, disk, address) });
    }
    const zstdRows = await zstdBenchCases({ address, diskDir, scratch, runs, log }, only);
    // The wide-area case (wide-area.ts): the qcow2.zst through a proxy that makes the registry far away.
    let wide: WideAreaResult | undefined;
    if (!only || only.test('wide-area')) {
      const disk = published['5.5']!.find((d) => d.disktype === 'qemu' && d.architecture === 'x86_64')!;
      wide = await runWideArea(address, disk, scratch, runs);
    }
    let report = render(rows, address) + (wide ? renderWideArea(wide, runs) : '');
    if (zstdRows.length > 0) report += `\nNo-tools and multi-frame cases:\n\n${renderZstdRows(zstdRows)}`;
    process.stdout.write(report);
    await fsp.writeFile(join(work, 'results.md'), report);
    await fsp.writeFile(
      join(work, 'results.json'),
      JSON.stringify(
        [
          ...rows.map((r) => ({ case: r.case.name, blobSize: r.disk.size, ...r.results })),
          ...(wide ? [{ case: 'wide-area', blobSize: wide.disk.size, ...wide.results }] : []),
        ],
        null,
        2,
      ),
    );
    log(`results in ${join(work, 'results.md')} and results.json`);
  } finally {
    if (!process.env.OCIPULL_BENCH_KEEP_REGISTRY) script('registry.sh', ['stop', registryDir]);
  }
}

async function runCase(c: Case, disk: PublishedDisk, address: string): Promise<Record<string, Measured>> {
  const reference = disk.file.replace(/\.(zst|xz)$/, '');
  const out = join(scratch, `out-${c.disktype}`);
  const cache = join(scratch, 'cache');
  const layout = join(scratch, 'layout');
  const blobUrl = `http://${address}/v2/podman/machine-os/blobs/${disk.blob}`;
  // As podman does it: a second pass over the copied blob (its Go zstd decoder; `xz -d -c`).
  const decode = c.decoder === 'zstd' ? 'zstd -d -q -f "$BLOB" -o "$OUT"' : 'xz -d -c "$BLOB" > "$OUT"';
  const decodeStreaming = c.decoder === 'zstd' ? 'zstd -d -q -f -o "$OUT"' : 'xz -d -T0 -c > "$OUT"';
  const clean = async () => {
    await fsp.rm(out, { force: true });
    await fsp.rm(cache, { recursive: true, force: true });
    await fsp.rm(layout, { recursive: true, force: true });
  };
  const env = {
    OUT: out,
    URL: blobUrl,
    LAYOUT: layout,
    BLOB: join(layout, 'blobs', ...disk.blob.split(':')),
  };
  log(`${c.name}: ${disk.size} compressed bytes, ${runs} runs each`);
  const pipelines: Record<string, string[]> = {
    ocipull: [
      process.execPath,
      cliPath,
      'pull',
      `docker://${address}/podman/machine-os:${c.tag}`,
      '--preset',
      c.preset,
      '--arch',
      'x86_64',
      '-o',
      out,
      '--cache-dir',
      cache,
      '--progress',
      'none',
      '-q',
    ],
    'podman-equivalent': [
      'sh',
      '-c',
      `skopeo copy -q --src-tls-verify=false docker://${address}/podman/machine-os@${disk.manifest} oci:"$LAYOUT" && ${decode}`,
    ],
    'lower-bound': ['sh', '-c', `curl -sf "$URL" | ${decodeStreaming}`],
    // The lower bound made durable as ocipull's output is (fsync before it counts as written):
    // not a target, a reference for how much of the gap is the disk.
    'lower-bound-fsync': ['sh', '-c', `curl -sf "$URL" | ${decodeStreaming} && sync "$OUT"`],
  };
  const results: Record<string, Measured> = {};
  for (const [name, argv] of Object.entries(pipelines)) {
    const samples = [];
    for (let i = 0; i < runs; i++) {
      await clean();
      const sample = await measure(argv, env);
      if (sample.status !== 0) throw new Error(`${name} failed (${sample.status}): ${sample.stderr}`);
      if (i === 0 && !(await sameFile(out, reference)))
        throw new Error(`${name}: output differs from ${reference}`);
      samples.push(sample);
    }
    results[name] = summarize(samples, existsSync(out) ? (await fsp.stat(out)).blocks * 512 : 0);
    log(`  ${name}: median ${results[name]!.median.toFixed(2)} s, peak RSS ${results[name]!.peakRssMB} MB`);
  }
  await clean();
  return results;
}

function render(
  rows: Array<{ case: Case; disk: PublishedDisk; results: Record<string, Measured> }>,
  address: string,
): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, registry ${address} (loopback); disk ${size}; ${runs} runs, warm page cache.`,
    '',
    '| case | ocipull | podman-equivalent | lower bound | lower bound + fsync | ocipull / podman-eq (goal ≤ 0.60) | ocipull / lower bound (goal ≤ 1.15) | ocipull / lower bound + fsync | ocipull peak RSS (goal ≤ 150 MB) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const cell = (m: Measured) => `${m.median.toFixed(2)} s (${m.min.toFixed(2)}–${m.max.toFixed(2)})`;
  for (const { case: c, disk, results } of rows) {
    const o = results.ocipull!;
    const p = results['podman-equivalent']!;
    const l = results['lower-bound']!;
    const d = results['lower-bound-fsync']!;
    lines.push(
      `| ${c.name} (${(disk.size / 1e6).toFixed(0)} MB blob) | ${cell(o)} | ${cell(p)} | ${cell(l)} | ${cell(d)} | ${(o.median / p.median).toFixed(2)} | ${(o.median / l.median).toFixed(2)} | ${(o.median / d.median).toFixed(2)} | ${o.peakRssMB} MB |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
