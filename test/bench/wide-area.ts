/**
 * The wide-area case of `npm run bench`: the registry behind a loopback proxy that gives each
 * connection 20 MB/s and 40 ms to the first byte (throttle-proxy.ts), as a CDN far away does.
 * ocipull with 4 connections and with 1, the podman-equivalent pipeline (one connection, then a
 * second pass to decompress) and `curl | zstd -d` all go through it; outputs are checked
 * byte-identical to the source disk.
 *
 * Alone (a disk already made by make-disk.sh and a registry already serving it):
 *   node dist/test/bench/wide-area.js REGISTRY DISK_DIR   (OCIPULL_BENCH_RUNS, OCIPULL_BENCH_DIR)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchDir, cliPath } from '../support/paths.js';
import { type Measured, measure, sameFile, summarize } from './measure.js';
import { startThrottleProxy } from './throttle-proxy.js';

export const WIDE_AREA = { bytesPerSecond: 20e6, latencyMs: 40 };

export interface WideAreaDisk {
  manifest: string;
  blob: string;
  size: number;
  file: string;
}

export interface WideAreaResult {
  disk: WideAreaDisk;
  results: Record<string, Measured>;
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Every pipeline `runs` times through a fresh proxy in front of `registry`. */
export async function runWideArea(
  registry: string,
  disk: WideAreaDisk,
  scratch: string,
  runs: number,
): Promise<WideAreaResult> {
  const proxy = await startThrottleProxy({ upstream: registry, ...WIDE_AREA });
  const reference = disk.file.replace(/\.zst$/, '');
  const out = join(scratch, 'out-wide-area');
  const cache = join(scratch, 'cache-wide-area');
  const layout = join(scratch, 'layout-wide-area');
  const configs: Record<number, string> = {};
  for (const connections of [1, 4]) {
    configs[connections] = join(scratch, `wide-area-${connections}.json`);
    await fsp.writeFile(configs[connections]!, JSON.stringify({ connections }));
  }
  const env = {
    OUT: out,
    URL: `http://${proxy.addr}/v2/podman/machine-os/blobs/${disk.blob}`,
    LAYOUT: layout,
    BLOB: join(layout, 'blobs', ...disk.blob.split(':')),
  };
  const clean = async () => {
    await fsp.rm(out, { force: true });
    await fsp.rm(cache, { recursive: true, force: true });
    await fsp.rm(layout, { recursive: true, force: true });
  };
  const ocipull = (connections: number) => [
    process.execPath,
    cliPath,
    'pull',
    `docker://${proxy.addr}/podman/machine-os:5.5`,
    '--config',
    configs[connections]!,
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
  const pipelines: Record<string, string[]> = {
    'ocipull-4': ocipull(4),
    'ocipull-1': ocipull(1),
    'podman-equivalent': [
      'sh',
      '-c',
      `skopeo copy -q --src-tls-verify=false docker://${proxy.addr}/podman/machine-os@${disk.manifest} oci:"$LAYOUT" && zstd -d -q -f "$BLOB" -o "$OUT"`,
    ],
    'curl-zstd': ['sh', '-c', 'curl -sf "$URL" | zstd -d -q -f -o "$OUT"'],
  };
  log(
    `wide-area: ${disk.size} compressed bytes through ${proxy.addr} (${WIDE_AREA.bytesPerSecond / 1e6} MB/s per connection, ${WIDE_AREA.latencyMs} ms to the first byte), ${runs} runs each`,
  );
  const results: Record<string, Measured> = {};
  try {
    for (const [name, argv] of Object.entries(pipelines)) {
      const samples = [];
      for (let i = 0; i < runs; i++) {
        await clean();
        const before = proxy.connections();
        const sample = await measure(argv, env);
        if (sample.status !== 0) throw new Error(`${name} failed (${sample.status}): ${sample.stderr}`);
        if (i === 0 && !(await sameFile(out, reference)))
          throw new Error(`${name}: output differs from ${reference}`);
        if (i === 0) log(`  ${name}: ${proxy.connections() - before} connections`);
        samples.push(sample);
      }
      results[name] = summarize(samples, existsSync(out) ? (await fsp.stat(out)).blocks * 512 : 0);
      log(`  ${name}: median ${results[name]!.median.toFixed(2)} s, peak RSS ${results[name]!.peakRssMB} MB`);
    }
  } finally {
    await clean();
    await proxy.stop();
  }
  return { disk, results };
}

export function renderWideArea({ disk, results }: WideAreaResult, runs: number): string {
  const cell = (m: Measured) => `${m.median.toFixed(2)} s (${m.min.toFixed(2)}–${m.max.toFixed(2)})`;
  const o4 = results['ocipull-4']!;
  const o1 = results['ocipull-1']!;
  const p = results['podman-equivalent']!;
  const c = results['curl-zstd']!;
  return `${[
    '',
    `Wide-area case: ${(disk.size / 1e6).toFixed(0)} MB qcow2.zst blob through a proxy giving each connection ${WIDE_AREA.bytesPerSecond / 1e6} MB/s and ${WIDE_AREA.latencyMs} ms to the first byte; ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; ${runs} runs.`,
    '',
    '| ocipull, 4 connections | ocipull, 1 connection | podman-equivalent | curl \\| zstd -d | 4 conn / podman-eq (goal ≤ 0.35) | 4 conn / 1 conn (goal ≤ 0.40) | 4 conn / curl | ocipull peak RSS (goal ≤ 150 MB) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${cell(o4)} | ${cell(o1)} | ${cell(p)} | ${cell(c)} | ${(o4.median / p.median).toFixed(2)} | ${(o4.median / o1.median).toFixed(2)} | ${(o4.median / c.median).toFixed(2)} | ${Math.max(o4.peakRssMB, o1.peakRssMB)} MB |`,
  ].join('\n')}\n`;
}

/** Standalone: publish DISK_DIR's qcow2.zst to REGISTRY (layout under the bench dir) and run the case. */
async function main(): Promise<void> {
  const [registry, diskDir] = process.argv.slice(2);
  if (!registry || !diskDir) throw new Error('usage: wide-area.js REGISTRY DISK_DIR');
  const runs = Number(process.env.OCIPULL_BENCH_RUNS ?? 3);
  const work = process.env.OCIPULL_BENCH_DIR ?? join(tmpdir(), 'ocipull-bench-wide-area');
  const scratch = join(work, 'scratch');
  await fsp.mkdir(scratch, { recursive: true });
  const published = JSON.parse(
    execFileSync(
      join(benchDir, 'publish-machine-os.sh'),
      [diskDir, registry, '--tag', '5.5', '--no-image', '--layout', join(work, 'layout')],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 },
    ),
  ).disks as (WideAreaDisk & { disktype: string; architecture: string })[];
  const disk = published.find((d) => d.disktype === 'qemu' && d.architecture === 'x86_64');
  if (!disk) throw new Error('no qemu x86_64 disk published');
  const report = renderWideArea(await runWideArea(registry, disk, scratch, runs), runs);
  process.stdout.write(report);
  await fsp.writeFile(join(work, 'wide-area.md'), report);
}

if (process.argv[1]?.endsWith('wide-area.js')) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  });
}
