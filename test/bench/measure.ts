import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';

export interface Sample {
  seconds: number;
  /** Peak resident set of the largest process of the run, in kB (GNU time). */
  maxRssKB: number;
  status: number | null;
  stderr: string;
}

export interface Measured {
  median: number;
  min: number;
  max: number;
  runs: number;
  peakRssMB: number;
  /** Bytes allocated by the output (holes excluded). */
  allocated: number;
}

const GNU_TIME = '/usr/bin/time';

/** Run argv, timing it; with GNU time its peak RSS too (wait4's ru_maxrss: the largest process). */
export function measure(argv: string[], env: Record<string, string>): Promise<Sample> {
  const timed = existsSync(GNU_TIME) ? [GNU_TIME, '-f', 'OCIPULL_MAXRSS=%M', ...argv] : argv;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(timed[0]!, timed.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      stderr += text;
    });
    child.once('error', reject);
    child.once('close', (status) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const rss = /OCIPULL_MAXRSS=(\d+)/.exec(stderr);
      resolve({
        seconds,
        maxRssKB: rss ? Number(rss[1]) : 0,
        status,
        stderr: stderr.replace(/OCIPULL_MAXRSS=\d+\n?/, ''),
      });
    });
  });
}

export function summarize(samples: Sample[], allocated: number): Measured {
  const times = samples.map((s) => s.seconds).sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  const median = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
  return {
    median,
    min: times[0]!,
    max: times[times.length - 1]!,
    runs: times.length,
    peakRssMB: Math.round(Math.max(...samples.map((s) => s.maxRssKB)) / 1024),
    allocated,
  };
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const known = new Map<string, string>();

/** Whether two files hold the same bytes (the reference's hash is computed once). */
export async function sameFile(path: string, reference: string): Promise<boolean> {
  if (!known.has(reference)) known.set(reference, await sha256(reference));
  return (await sha256(path)) === known.get(reference);
}
