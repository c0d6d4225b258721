import type { ErrorCode } from '../errors/codes.js';
import { OcipullError } from '../errors/errors.js';
import { suggestion } from '../suggest.js';

/** Architecture names: Go/OCI (`amd64`, `arm64`) and `uname -m` (`x86_64`, `aarch64`) mean the same. */
const ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  x64: 'amd64',
  amd64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
  ia32: '386',
  i386: '386',
  i686: '386',
  ppc64le: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  arm: 'arm',
};

/** The OCI (Go) spelling of an architecture. */
export function normalizeArch(arch: string): string {
  return ALIASES[arch.toLowerCase()] ?? arch.toLowerCase();
}

/** The `uname -m` spelling machine-os uses for disk entries. */
export function unameArch(arch: string): string {
  const oci = normalizeArch(arch);
  return oci === 'amd64' ? 'x86_64' : oci === 'arm64' ? 'aarch64' : oci;
}

export function sameArch(a: string, b: string): boolean {
  return normalizeArch(a) === normalizeArch(b);
}

/** This host's architecture in OCI naming (process.arch `x64` → `amd64`). */
export function hostArch(): string {
  return normalizeArch(process.arch);
}

/** OCI (Go GOARCH) architectures a platform may name (image-spec config.md). */
export const KNOWN_ARCHITECTURES: readonly string[] = [
  'amd64',
  'arm64',
  'arm',
  '386',
  'ppc64le',
  'ppc64',
  's390x',
  'riscv64',
  'mips64le',
  'mips64',
  'mipsle',
  'mips',
  'loong64',
  'wasm',
];

/**
 * Refuse an architecture no platform has (`amd46`), naming `flag` and the closest known name, so
 * a typo ends at once instead of as "no disk for linux/amd46" after the network work.
 */
export function checkArchitecture(arch: string, flag: string, code: ErrorCode): void {
  if (KNOWN_ARCHITECTURES.includes(normalizeArch(arch))) return;
  throw new OcipullError(code, `${flag} ${JSON.stringify(arch)} is not a known architecture`, {
    hint: `${suggestion(arch, [...KNOWN_ARCHITECTURES, 'x86_64', 'aarch64'])}known: ${KNOWN_ARCHITECTURES.join(', ')} (or x86_64, aarch64)`,
  });
}
