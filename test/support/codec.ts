/**
 * A conformance suite every codec plugin runs against itself: round trips of files made by the
 * real tool (several frames / members / streams included), corrupt and truncated input, the
 * expansion limit, abort, holes, and no file left behind on failure.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger, isOcipullError, Orchestrator, OutputFile, type Plugin } from 'ocipull';
import { prngBytes } from './files.js';
import { tempDir } from './paths.js';

export function sh(command: string, args: string[], options: { input?: Buffer } = {}): Buffer {
  return execFileSync(command, args, { input: options.input, maxBuffer: 1 << 30 });
}

/**
 * Incompressible bytes that are the same on every run for a seed (sha256 in counter mode), so a
 * fixture damaged at a fixed offset fails the same way every time.
 */
export function seededBytes(seed: string, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let block = 0, at = 0; at < length; block++, at += 32) {
    createHash('sha256')
      .update(`${seed}:${block}`)
      .digest()
      .copy(out, at, 0, Math.min(32, length - at));
  }
  return out;
}

/** A small disk-like file: data, 4 KiB-aligned zero runs, text, an unaligned tail. */
export function diskBytes(seed = 1, zeroRun = 2 << 20): Buffer {
  const text = Buffer.from(`ocipull test disk ${seed}\n`.repeat(20_000));
  return Buffer.concat([
    seededBytes(`disk ${seed} head`, 256 << 10),
    Buffer.alloc(zeroRun),
    text,
    Buffer.alloc(64 << 10),
    seededBytes(`disk ${seed} tail`, 100_003),
    Buffer.alloc(zeroRun),
    Buffer.from('end'),
  ]);
}

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export interface DecodeOptions {
  sparse?: boolean;
  maxOutputBytes?: number;
  signal?: AbortSignal;
  /** File name given to detection (defaults to the input's base name). */
  name?: string;
  /** Hand the decoder a piped stream (as the core does), not the file stream itself. */
  piped?: boolean;
}

/** Detect the codec of `input` and decode it through the plugin's decompress tap into `target`. */
export async function decodeFile(plugin: Plugin, input: string, target: string, options: DecodeOptions = {}) {
  const orchestrator = new Orchestrator({ log: createLogger('silent') }).use(plugin);
  const head = Buffer.alloc(16);
  const fh = await fsp.open(input, 'r');
  const { bytesRead } = await fh.read(head, 0, 16, 0);
  await fh.close();
  const codec = orchestrator.codecs.detect(head.subarray(0, bytesRead), { name: options.name ?? input });
  const hook = orchestrator.hooks.decompress.get(codec);
  if (!hook?.isUsed()) throw new Error(`no plugin decodes ${codec}`);
  const output = await OutputFile.create(target, { sparse: options.sparse ?? false, replace: false });
  try {
    const result = await hook.promise({
      codec,
      input: options.piped
        ? createReadStream(input, { highWaterMark: 256 << 10 }).pipe(new PassThrough())
        : createReadStream(input, { highWaterMark: 256 << 10 }),
      output,
      maxOutputBytes: options.maxOutputBytes,
      signal: options.signal ?? new AbortController().signal,
      log: orchestrator.log,
    });
    assert.ok(result);
    await output.commit();
    return { codec, ...result };
  } catch (error) {
    await output.discard();
    throw error;
  }
}

/** Allocated bytes of a file (`stat` blocks × 512). */
export async function allocated(path: string): Promise<number> {
  return (await fsp.stat(path)).blocks * 512;
}

export interface ConformanceOptions {
  codec: string;
  /** Modes to run the suite in (plugin option `mode`); `[undefined]` for single-mode codecs. */
  modes: Array<string | undefined>;
  plugin(mode: string | undefined): Plugin;
  extension: string;
  /** Compress `src` into `dst` with the real tool. */
  compress(src: string, dst: string): void;
  /** Whether concatenating two compressed files gives a valid file of the concatenated data. */
  concatenates: boolean;
  /** Run the early-damage test (off for formats read from their end, like zip). */
  corruptEarly?: boolean;
}

export function codecConformance(options: ConformanceOptions): void {
  const { codec, extension } = options;
  for (const mode of options.modes) {
    describe(`${codec} codec${mode ? ` (${mode})` : ''}`, () => {
      let dir = '';
      let cleanup = async () => {};
      const disk = diskBytes(1);
      const files: Record<string, string> = {};
      const plugin = () => options.plugin(mode);
      const target = (name: string) => join(dir, `${name}.out`);

      before(async () => {
        ({ dir, cleanup } = await tempDir(`ocipull-${codec}-`));
        files.raw = join(dir, 'disk.raw');
        await fsp.writeFile(files.raw, disk);
        files.one = join(dir, `disk.raw.${extension}`);
        options.compress(files.raw, files.one);
        const compressed = await fsp.readFile(files.one);
        files.truncated = join(dir, `truncated.${extension}`);
        await fsp.writeFile(files.truncated, compressed.subarray(0, Math.floor(compressed.length * 0.6)));
        files.corrupt = join(dir, `corrupt.${extension}`);
        const bad = Buffer.from(compressed);
        for (let i = Math.floor(bad.length / 2); i < Math.floor(bad.length / 2) + 64; i++)
          bad[i] = (bad[i] ?? 0) ^ 0x5a;
        await fsp.writeFile(files.corrupt, bad);
        // Damage right after the header, then far more input than a pipe holds: a decoder child
        // dies while it is still being fed, so the feeding side sees EPIPE.
        files.corruptEarly = join(dir, `corrupt-early.${extension}`);
        const early = Buffer.from(compressed.subarray(0, Math.min(compressed.length, 64 << 10)));
        for (let i = 24; i < Math.min(early.length, 600); i++) early[i] = (early[i] ?? 0) ^ 0xa5;
        await fsp.writeFile(files.corruptEarly, Buffer.concat([early, prngBytes(16 << 20, 1)]));
      });
      after(() => cleanup());

      async function expectFailure(file: string, name: string, code: string, decode = {} as DecodeOptions) {
        await assert.rejects(decodeFile(plugin(), file, target(name), decode), (error: unknown) => {
          assert.ok(isOcipullError(error), `expected an OcipullError, got ${error}`);
          assert.equal(error.code, code, error.message);
          return true;
        });
        await assert.rejects(fsp.stat(target(name)), { code: 'ENOENT' });
        const leftovers = (await fsp.readdir(dir)).filter((f) => f.includes('ocipull-tmp'));
        assert.deepEqual(leftovers, []);
      }

      it('round-trips a file made by the real tool, byte for byte', async () => {
        const result = await decodeFile(plugin(), files.one!, target('one'));
        assert.equal(result.codec, codec);
        assert.equal(result.bytesWritten, disk.length);
        assert.equal(sha256(await fsp.readFile(target('one'))), sha256(disk));
      });

      if (options.concatenates) {
        it('decodes every frame / member / stream of a concatenated file', async () => {
          const second = diskBytes(2, 8192);
          const secondRaw = join(dir, 'second.raw');
          await fsp.writeFile(secondRaw, second);
          const secondPacked = join(dir, `second.raw.${extension}`);
          options.compress(secondRaw, secondPacked);
          const joined = join(dir, `joined.${extension}`);
          await fsp.writeFile(
            joined,
            Buffer.concat([await fsp.readFile(files.one!), await fsp.readFile(secondPacked)]),
          );
          const result = await decodeFile(plugin(), joined, target('joined'));
          assert.equal(result.bytesWritten, disk.length + second.length);
          assert.equal(sha256(await fsp.readFile(target('joined'))), sha256(Buffer.concat([disk, second])));
        });
      }

      it('writes holes for aligned zero runs when sparse, every block when not', async () => {
        await decodeFile(plugin(), files.one!, target('sparse'), { sparse: true });
        await decodeFile(plugin(), files.one!, target('dense'), { sparse: false });
        assert.equal(sha256(await fsp.readFile(target('sparse'))), sha256(disk));
        assert.equal((await fsp.stat(target('sparse'))).size, disk.length);
        assert.ok(
          (await allocated(target('sparse'))) < disk.length - (3 << 20),
          `sparse output allocates ${await allocated(target('sparse'))}`,
        );
        assert.ok(
          (await allocated(target('dense'))) >= disk.length,
          `dense output allocates ${await allocated(target('dense'))}`,
        );
      });

      it('fails a truncated stream with DECOMPRESS_TRUNCATED and leaves no file', () =>
        expectFailure(files.truncated!, 'truncated', 'DECOMPRESS_TRUNCATED'));

      it('fails a corrupt stream with DECOMPRESS_CORRUPT and leaves no file', () =>
        expectFailure(files.corrupt!, 'corrupt', 'DECOMPRESS_CORRUPT'));

      if (options.corruptEarly !== false) {
        it('fails early damage in a long piped input with DECOMPRESS_CORRUPT, not a pipe error', () =>
          expectFailure(files.corruptEarly!, 'corrupt-early', 'DECOMPRESS_CORRUPT', { piped: true }));
      }

      it('stops at maxOutputBytes with EXPANSION_LIMIT', () =>
        expectFailure(files.one!, 'limited', 'EXPANSION_LIMIT', { maxOutputBytes: 1 << 20 }));

      it('stops when the signal aborts, with its reason', async () => {
        const controller = new AbortController();
        const reason = new Error('stop now');
        setImmediate(() => controller.abort(reason));
        await assert.rejects(
          decodeFile(plugin(), files.one!, target('aborted'), { signal: controller.signal }),
          (e) => e === reason || (e as Error).cause === reason,
        );
        await assert.rejects(fsp.stat(target('aborted')), { code: 'ENOENT' });
      });
    });
  }
}
