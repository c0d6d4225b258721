#!/usr/bin/env node
/**
 * The Debian packages the tests need (listed once, in .ci/apt-packages): check them, and when
 * some are missing either install them (as root, with apt-get, as CI does) or stop at once with
 * the exact `apt-get install` line to run. Called by .ci/run and by test/run.js before any test.
 *
 *   node scripts/ensure-packages.mjs        exit 0 when all are there (or were installed), else 1
 *
 * `ensurePackages` takes its package query, root check and installer as options, so its
 * decisions are unit-tested without touching the machine's packages (test/scripts/ensure-packages.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PACKAGE_LIST = fileURLToPath(new URL('../.ci/apt-packages', import.meta.url));

/** The names in a package list: one a line, `#` starts a comment. */
export function parsePackageList(text) {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
}

/** Whether dpkg says each package is installed (`dpkg-query` missing: none is). */
export function dpkgInstalled(names) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const result = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\\n', ...names], {
    encoding: 'utf8',
  });
  const installed = new Set(
    (result.stdout ?? '')
      .split('\n')
      .filter((line) => line.endsWith(' install ok installed'))
      .map((line) => line.split(' ')[0].replace(/:.*/, '')),
  );
  return new Map(names.map((name) => [name, installed.has(name)]));
}

/** The line a person runs (as root) to install `missing`. */
export function installLine(missing) {
  return `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
}

/** apt-get update, then install `missing` (non-interactive). Returns apt-get's failure, if any. */
export function aptInstall(missing) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', ...missing],
  ]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
    if (result.status !== 0)
      return `apt-get ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}): ${(result.stderr ?? '').trim().slice(-500)}`;
  }
  return undefined;
}

/**
 * Check the packages; install the missing ones when root. Returns `{ ok, missing, installed,
 * message }`: `ok` false means the tests must not start, and `message` says why and what to run.
 */
export function ensurePackages({
  names = parsePackageList(readFileSync(PACKAGE_LIST, 'utf8')),
  query = dpkgInstalled,
  isRoot = process.getuid?.() === 0,
  install = aptInstall,
  who = 'test/run.js',
} = {}) {
  const status = query(names);
  const missing = names.filter((name) => !status.get(name));
  if (missing.length === 0) return { ok: true, missing, installed: [], message: '' };
  const need = `${who}: the tests need Debian packages that are not installed: ${missing.join(', ')}.`;
  if (!isRoot) {
    return {
      ok: false,
      missing,
      installed: [],
      message: `${need}\nInstall them as root (e.g. with sudo), then run the tests again:\n  ${installLine(missing)}`,
    };
  }
  const failure = install(missing);
  const after = failure ? undefined : query(missing);
  const still = after ? missing.filter((name) => !after.get(name)) : missing;
  if (still.length > 0) {
    return {
      ok: false,
      missing: still,
      installed: missing.filter((name) => !still.includes(name)),
      message: `${need}\nInstalling them failed${failure ? `: ${failure}` : ` (${still.join(', ')} still missing)`}\n  ${installLine(still)}`,
    };
  }
  return { ok: true, missing: [], installed: missing, message: '' };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = ensurePackages({ who: 'ensure-packages' });
  if (!result.ok) {
    console.error(result.message);
    process.exit(1);
  }
  if (result.installed.length > 0) console.log(`ensure-packages: installed ${result.installed.join(' ')}`);
}
