/**
 * Small, deterministic VM disks for tests, made with the real `qemu-img`, and compressed with the
 * real CLI codecs. The same options (and seed) always give the same bytes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prng } from './files.js';

export type DiskFormat = 'qcow2' | 'raw' | 'vhdx';
export type Codec = 'zstd' | 'xz' | 'gzip' | 'bzip2' | 'none';

export interface DiskOptions {
  format: DiskFormat;
  /** Virtual size (default 64 MiB). */
  sizeMiB?: number;
  /** Bytes of data scattered over the disk (default 2 MiB), half random, half compressible. */
  dataMiB?: number;
  /** Changes every data byte and offset (default 1). */
  seed?: number;
  /** File name (default `disk-<seed>.<format>`). */
  name?: string;
}

/** File extension each codec's tool gives (`none`: nothing added). */
export const CODEC_EXTENSIONS: Record<Codec, string> = {
  zstd: 'zst',
  xz: 'xz',
  gzip: 'gz',
  bzip2: 'bz2',
  none: '',
};

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** Run a tool; stdout goes to `stdoutPath` when given. Rejects with the tool's stderr. */
export async function run(command: string, args: string[], stdoutPath?: string): Promise<string> {
  const handle = stdoutPath ? await fsp.open(stdoutPath, 'w') : undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', handle ? handle.fd : 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        err += d;
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolve(out);
        else reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${err.trim()}`));
      });
    });
  } finally {
    await handle?.close();
  }
}

/** The shared seeded PRNG (files.ts) as unsigned 32-bit words; seed 0 maps to a fixed non-zero seed. */
function words(seed: number): () => number {
  const next = prng(seed >>> 0 || 0x9e3779b9);
  return () => Math.floor(next() * 4294967296) >>> 0;
}

function chunkBytes(next: () => number, index: number, seed: number): Buffer {
  const buf = Buffer.alloc(CHUNK);
  if (index % 2 === 0) {
    for (let i = 0; i < CHUNK; i += 4) buf.writeUInt32LE(next(), i);
  } else {
    const line = Buffer.from(`ocipull test disk seed=${seed} chunk=${index} `);
    for (let i = 0; i < CHUNK; i += line.length) line.copy(buf, i);
  }
  return buf;
}

/**
 * A raw disk of `sizeMiB` (sparse) with `dataMiB` of data in 64 KiB chunks at scattered aligned
 * offsets and long zero runs between them, converted with `qemu-img convert -O <format>`.
 * Returns the disk's path. qcow2 and vhdx disks are built once per machine and builder version
 * (see `cachedDisk`) and copied from there; raw disks are cheap and written directly.
 * `OCIPULL_TEST_DISK_CACHE=off` builds every disk afresh (the example's rebuild test does).
 */
export async function makeDisk(dir: string, options: DiskOptions): Promise<string> {
  const seed = options.seed ?? 1;
  if (options.format === 'raw' || process.env.OCIPULL_TEST_DISK_CACHE === 'off')
    return buildDisk(dir, options);
  const out = join(dir, options.name ?? `disk-${seed}.${options.format}`);
  await fsp.copyFile(await cachedDisk(options), out, constants.COPYFILE_FICLONE);
  return out;
}

let versionKey: Promise<string> | undefined;

/** What the bytes depend on besides the options: this builder's code and the qemu-img in use. */
function builderVersion(): Promise<string> {
  versionKey ??= (async () => {
    const hash = createHash('sha256');
    hash.update(await fsp.readFile(fileURLToPath(import.meta.url)));
    hash.update(await run('qemu-img', ['--version']));
    return hash.digest('hex').slice(0, 16);
  })();
  return versionKey;
}

/**
 * The disk for `options` in a cache under os.tmpdir(), keyed by its parameters and the builder
 * version. A missing entry is built in a private temp directory and renamed into place, so test
 * files running in parallel see either no entry or a whole one (two racing builders write the same
 * bytes; the last rename wins).
 */
async function cachedDisk(options: DiskOptions): Promise<string> {
  const sizeMiB = options.sizeMiB ?? 64;
  const dataMiB = options.dataMiB ?? 2;
  const seed = options.seed ?? 1;
  const cacheDir = join(tmpdir(), 'ocipull-test-disks');
  const path = join(cacheDir, `${options.format}-${sizeMiB}m-${dataMiB}m-s${seed}-${await builderVersion()}`);
  const present = await fsp.stat(path).then(
    (st) => st.isFile(),
    () => false,
  );
  if (present) return path;
  await fsp.mkdir(cacheDir, { recursive: true });
  const work = await fsp.mkdtemp(join(cacheDir, '.build-'));
  try {
    const built = await buildDisk(work, { format: options.format, sizeMiB, dataMiB, seed, name: 'disk' });
    await fsp.rename(built, path);
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
  return path;
}

async function buildDisk(dir: string, options: DiskOptions): Promise<string> {
  const sizeMiB = options.sizeMiB ?? 64;
  const dataMiB = options.dataMiB ?? 2;
  const seed = options.seed ?? 1;
  const next = words(seed);
  const slots = (sizeMiB * MiB) / CHUNK;
  const wanted = Math.min(Math.max(1, Math.round((dataMiB * MiB) / CHUNK)), slots);
  const used = new Set<number>([0, slots - 1]);
  while (used.size < wanted) used.add(next() % slots);
  const rawPath = join(
    dir,
    options.format === 'raw' ? (options.name ?? `disk-${seed}.raw`) : `.disk-${seed}-${Date.now()}.raw`,
  );
  const handle = await fsp.open(rawPath, 'w');
  try {
    await handle.truncate(sizeMiB * MiB);
    for (const slot of [...used].sort((a, b) => a - b)) {
      await handle.write(chunkBytes(next, slot, seed), 0, CHUNK, slot * CHUNK);
    }
  } finally {
    await handle.close();
  }
  if (options.format === 'raw') return rawPath;
  const out = join(dir, options.name ?? `disk-${seed}.${options.format}`);
  const formatOptions = options.format === 'vhdx' ? ['-o', 'subformat=dynamic,block_size=1048576'] : [];
  await run('qemu-img', ['convert', '-f', 'raw', '-O', options.format, ...formatOptions, rawPath, out]);
  await fsp.rm(rawPath, { force: true });
  if (options.format === 'vhdx') await fixVhdxIdentity(out, seed);
  return out;
}

/** Compress a file with the real tool; returns the new file's path (`path` itself for `none`). */
export async function compress(path: string, codec: Codec): Promise<string> {
  if (codec === 'none') return path;
  const out = `${path}.${CODEC_EXTENSIONS[codec]}`;
  const args: Record<Exclude<Codec, 'none'>, [string, string[]]> = {
    zstd: ['zstd', ['-q', '-c', '-T1', '-10', '--no-progress', path]],
    xz: ['xz', ['-c', '-T1', '-6', path]],
    gzip: ['gzip', ['-c', '-n', '-6', path]],
    bzip2: ['bzip2', ['-c', '-9', path]],
  };
  const [command, argv] = args[codec];
  await run(command, argv, out);
  return out;
}

// ---------------------------------------------------------------------------
// VHDX: qemu-img writes random GUIDs into the headers and metadata; replace them with ones derived
// from the seed so a rebuilt vhdx has the same bytes (and fix the headers' CRC-32C).
// ---------------------------------------------------------------------------

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function guidFor(seed: number, salt: number): Buffer {
  const next = words(seed * 31 + salt);
  const buf = Buffer.alloc(16);
  for (let i = 0; i < 16; i += 4) buf.writeUInt32LE(next(), i);
  return buf;
}

const PAGE83_GUID = Buffer.from('ab12cabee6b22345' + '93efc309e000c746', 'hex');

async function fixVhdxIdentity(path: string, seed: number): Promise<void> {
  const file = await fsp.readFile(path);
  // Headers at 64 KiB and 128 KiB: FileWriteGuid @16, DataWriteGuid @32 (LogGuid @48 stays zero).
  // Sequence numbers are random too: keep their order (the larger marks the current header).
  const headers = [64 * 1024, 128 * 1024].map((base) => file.subarray(base, base + 4096));
  const newer = headers[0]!.readBigUInt64LE(8) > headers[1]!.readBigUInt64LE(8) ? 0 : 1;
  for (const [i, header] of headers.entries()) {
    if (header.toString('latin1', 0, 4) !== 'head') throw new Error(`${path}: no VHDX header ${i}`);
    if (!header.subarray(48, 64).equals(Buffer.alloc(16))) throw new Error(`${path}: VHDX log is not clean`);
    header.writeBigUInt64LE(i === newer ? 2n : 1n, 8);
    // The log is unused (LogGuid zero), but holds stale entries stamped with a random GUID.
    file.fill(
      0,
      Number(header.readBigUInt64LE(72)),
      Number(header.readBigUInt64LE(72)) + header.readUInt32LE(68),
    );
    guidFor(seed, 1).copy(header, 16);
    guidFor(seed, 2).copy(header, 32);
    header.writeUInt32LE(0, 4);
    header.writeUInt32LE(crc32c(header), 4);
  }
  // Region table at 192 KiB names the metadata region; its table lists Page83Data (the disk's id).
  const regions = file.subarray(192 * 1024, 192 * 1024 + 64 * 1024);
  const count = regions.readUInt32LE(8);
  const metadataGuid = Buffer.from('06a27c8b90479a4bb8fe575f050f886e', 'hex');
  for (let i = 0; i < count; i++) {
    const entry = regions.subarray(16 + i * 32, 48 + i * 32);
    if (!entry.subarray(0, 16).equals(metadataGuid)) continue;
    const metadata = Number(entry.readBigUInt64LE(16));
    const items = file.readUInt16LE(metadata + 10);
    for (let j = 0; j < items; j++) {
      const item = metadata + 32 + j * 32;
      if (file.subarray(item, item + 16).equals(PAGE83_GUID)) {
        guidFor(seed, 3).copy(file, metadata + file.readUInt32LE(item + 16));
      }
    }
  }
  await fsp.writeFile(path, file);
}
