#!/usr/bin/env node
// Runs the compiled test files (dist/**/*.test.js) with node's test runner, two at a time, in a
// seeded random order (so no file may rely on another having run first).
//
//   node test/run.js [substring ...] [--name PATTERN] [--seed N]
//
// - substrings: only files whose path contains one of them;
// - --name PATTERN: only tests whose name matches (node's --test-name-pattern, a RegExp);
// - --seed N (or OCIPULL_TEST_SEED=N): the order of the files; printed at the start, and a new
//   random one each run when neither is given.
// Before any test runs, the Debian packages the suites need are checked (scripts/ensure-packages.mjs):
// as root the missing ones are installed, otherwise it stops naming the apt-get line to run.
import { randomInt } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';
import { ensurePackages } from '../scripts/ensure-packages.mjs';
import { ensureTestKernel } from '../scripts/test-kernel.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');

function parseArgs(argv) {
  const filters = [];
  const names = [];
  let seed;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    if (flag === '--name') names.push(value());
    else if (flag === '--seed') seed = value();
    else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
    else filters.push(arg);
  }
  return { filters, names, seed: seed ?? process.env.OCIPULL_TEST_SEED };
}

function usage(problem) {
  console.error(
    `test/run.js: ${problem}\nusage: node test/run.js [substring ...] [--name PATTERN] [--seed N]`,
  );
  process.exit(2);
}

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

/** mulberry32 over uint32 seeds; the same seed gives the same order on every machine. */
function shuffled(items, seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const { filters, names, seed: seedText } = parseArgs(process.argv.slice(2));
if (seedText !== undefined && !/^\d+$/.test(seedText))
  usage(`--seed wants a non-negative integer, not ${seedText}`);
const seed = seedText === undefined ? randomInt(2 ** 32) : Number(seedText) >>> 0;

const packages = ensurePackages();
if (!packages.ok) {
  console.error(packages.message);
  process.exit(1);
}
if (packages.installed.length > 0) console.log(`test/run.js: installed ${packages.installed.join(' ')}`);
// The kernel the boot test starts (Debian's cloud kernel, downloaded once, never installed).
try {
  process.env.OCIPULL_TEST_KERNEL = ensureTestKernel();
} catch (error) {
  console.error(`test/run.js: cannot fetch the kernel the boot test needs: ${error.message}`);
  process.exit(1);
}

let all;
try {
  all = walk(dist, []);
} catch {
  all = [];
}
const files = all
  .filter((f) => !f.includes(`${join('dist', 'test', 'bench')}`))
  // A filter matches the compiled path (dist/test/x.test.js) or the source one (test/x.test.ts).
  .filter((f) => {
    const source = relative(dist, f).replace(/\.js$/, '.ts');
    return filters.length === 0 || filters.some((s) => relative(root, f).includes(s) || source.includes(s));
  })
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/ (did the build run?)');
  process.exit(1);
}
const order = shuffled(files, seed);
const again = `node test/run.js ${[...filters, ...names.flatMap((n) => ['--name', JSON.stringify(n)])].join(' ')}${filters.length || names.length ? ' ' : ''}--seed ${seed}`;
console.log(`test/run.js: ${order.length} files, seed ${seed} (again: ${again})`);
// node --test sorts the files it is given; run() keeps the order.
process.env.OCIPULL_TEST_SEED = String(seed);
process.env.OCIPULL_RETRY_DELAY_MS = process.env.OCIPULL_RETRY_DELAY_MS ?? '20';
let failed = false;
const stream = run({
  files: order,
  concurrency: 2,
  timeout: 300_000,
  ...(names.length ? { testNamePatterns: names } : {}),
});
stream.on('test:fail', () => {
  failed = true;
});
stream.on('end', () => {
  if (failed) console.log(`test/run.js: failed with seed ${seed}; again: ${again}`);
  process.exitCode = failed ? 1 : 0;
});
stream.compose(spec).pipe(process.stdout);
