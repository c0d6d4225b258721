/**
 * The codec conformance kit (`ocipull/testkit/codec`): `codecConformance(options)` registers
 * node:test tests that a codec plugin, built-in or third-party, runs against itself. Per decoder
 * mode: round trips of files made by the real tool (zero runs written as holes when sparse, every
 * block when not; concatenated streams), truncated, corrupt and early-damaged input, data after
 * the last stream, the expansion limit, abort (no child left running), detection of the codec by
 * its record, and the record's stream decoder agreeing with the `decompress` hook.
 *
 * ```ts
 * import { codecConformance, sh } from 'ocipull/testkit/codec';
 * codecConformance({
 *   codec: 'lz4',
 *   plugin: (mode) => new Lz4CodecPlugin({ mode }),
 *   modes: ['child', 'inprocess'],
 *   compress: (src, dst) => sh('lz4', ['-q', '-f', src, dst]),
 *   concatenates: true,
 * });
 * ```
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { isOcipullError } from '../errors/errors.js';
import { createLogger } from '../log.js';
import { Orchestrator } from '../orchestrator.js';
import { OutputFile } from '../pipeline/output.js';
import type { CodecInfo, Plugin } from '../types.js';

/** Run a program and return its stdout (for `compress` callbacks). */
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
  /** File name given to detection (defaults to the input's path). */
  name?: string;
  /** Hand the decoder a piped stream (as the core does), not the file stream itself. */
  piped?: boolean;
  /** Called as input bytes pass into the decoder, with the total so far (the stream is then piped). */
  onInput?(total: number): void;
}

/** Detect the codec of `input` by the plugin's record and decode it through its decompress tap into `target`. */
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
  const file = createReadStream(input, { highWaterMark: 256 << 10 });
  let total = 0;
  const { onInput } = options;
  const counted = onInput
    ? new Transform({
        transform(chunk: Buffer, _enc, callback) {
          total += chunk.length;
          callback(null, chunk);
          onInput(total);
        },
      })
    : undefined;
  try {
    const result = await hook.promise({
      codec,
      input: counted ? file.pipe(counted) : options.piped ? file.pipe(new PassThrough()) : file,
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

/** Decode `input` through a record's stream decoder; the decoded bytes. */
export async function decodeStreamFile(record: CodecInfo, input: string): Promise<Buffer> {
  if (!record.decodeStream) throw new Error(`codec ${record.name} has no stream decoder`);
  const chunks: Buffer[] = [];
  await pipeline(
    createReadStream(input, { highWaterMark: 256 << 10 }),
    record.decodeStream(),
    new Writable({
      write(chunk: Buffer, _enc, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(chunks);
}

/** Allocated bytes of a file (`stat` blocks × 512). */
export async function allocated(path: string): Promise<number> {
  return (await fsp.stat(path)).blocks * 512;
}

/** Processes this process started that are still running (not yet reaped). */
export function runningChildren(): number[] {
  if (existsSync('/proc/self/stat')) {
    const children: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(ppid) === process.pid && state !== 'Z') children.push(Number(entry));
      } catch {}
    }
    return children;
  }
  const listing = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8' });
  return listing
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, ppid, comm]) => Number(ppid) === process.pid && comm !== 'ps' && !comm?.endsWith('/ps'))
    .map(([pid]) => Number(pid));
}

export interface ConformanceOptions {
  /** The codec's name, as its record registers it. */
  codec: string;
  /** The plugin under test, in a mode (its `mode` option; `undefined` for a single-mode codec). */
  plugin(mode: string | undefined): Plugin;
  /** Modes to run the suite in (default `[undefined]`). */
  modes?: Array<string | undefined>;
  /** Compress the file `src` into the file `dst` (with the real tool, or the plugin's own encoder). */
  compress(src: string, dst: string): unknown;
  /** File extension of compressed files (default: the record's first). */
  extension?: string;
  /** Whether two compressed files one after the other decode to the two contents (default false). */
  concatenates?: boolean;
  /** Run the early-damage test (default true; off for formats read from their end, like zip). */
  corruptEarly?: boolean;
  /**
   * The codes garbage appended after the last stream may fail with (default
   * `['DECOMPRESS_TRAILING_DATA']`); `false`: the format takes appended bytes (no test).
   */
  trailing?: string[] | false;
}

export function codecConformance(options: ConformanceOptions): void {
  const { codec } = options;
  for (const mode of options.modes ?? [undefined]) {
    describe(`${codec} codec${mode ? ` (${mode})` : ''}`, () => {
      let dir = '';
      const disk = diskBytes(1);
      const files: Record<string, string> = {};
      const plugin = () => options.plugin(mode);
      const target = (name: string) => join(dir, `${name}.out`);
      let record: CodecInfo | undefined;
      let extension = options.extension ?? '';

      before(async () => {
        dir = await fsp.mkdtemp(join(tmpdir(), `ocipull-${codec}-`));
        record = new Orchestrator({ log: createLogger('silent') }).use(plugin()).codecs.get(codec);
        assert.ok(record, `the plugin registers a codec named ${codec}`);
        extension ||= record.extensions[0] ?? codec;
        files.raw = join(dir, 'disk.raw');
        await fsp.writeFile(files.raw, disk);
        files.one = join(dir, `disk.raw.${extension}`);
        await options.compress(files.raw, files.one);
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
        await fsp.writeFile(files.corruptEarly, Buffer.concat([early, seededBytes('early', 16 << 20)]));
        files.trailing = join(dir, `trailing.${extension}`);
        await fsp.writeFile(
          files.trailing,
          Buffer.concat([compressed, Buffer.from('garbage appended by a careless publisher')]),
        );
      });
      after(() => fsp.rm(dir, { recursive: true, force: true }));

      async function expectFailure(
        file: string,
        name: string,
        codes: string[],
        decode = {} as DecodeOptions,
      ) {
        await assert.rejects(decodeFile(plugin(), file, target(name), decode), (error: unknown) => {
          assert.ok(isOcipullError(error), `expected an OcipullError, got ${error}`);
          assert.ok(
            codes.includes(error.code),
            `${error.code} (${error.message}), expected ${codes.join(' or ')}`,
          );
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

      it('is recognised by its record: magic bytes, with the name as a hint', async () => {
        const codecs = new Orchestrator({ log: createLogger('silent') }).use(plugin()).codecs;
        const head = (await fsp.readFile(files.one!)).subarray(0, 16);
        assert.equal(codecs.detect(head, { name: `disk.raw.${extension}` }), codec);
        assert.equal(codecs.byExtension(extension)?.name, codec, `.${extension} names ${codec}`);
        // A name-only codec (zip) needs the name; any other is found by its bytes alone.
        assert.equal(codecs.detect(head, { name: 'disk.raw' }), record!.requireNameMatch ? 'none' : codec);
        // Bytes that carry no magic under a name that promises the codec are a mismatch.
        if (!record!.requireNameMatch) {
          assert.throws(
            () =>
              codecs.detect(Buffer.from('QFI\xfb\0\0\0\x03', 'latin1'), { name: `disk.qcow2.${extension}` }),
            (error) => isOcipullError(error, 'CODEC_MISMATCH'),
          );
        }
      });

      if (options.concatenates) {
        it('decodes every frame / member / stream of a concatenated file', async () => {
          const second = diskBytes(2, 8192);
          const secondRaw = join(dir, 'second.raw');
          await fsp.writeFile(secondRaw, second);
          const secondPacked = join(dir, `second.raw.${extension}`);
          await options.compress(secondRaw, secondPacked);
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
        expectFailure(files.truncated!, 'truncated', ['DECOMPRESS_TRUNCATED']));

      it('fails a corrupt stream with DECOMPRESS_CORRUPT and leaves no file', () =>
        expectFailure(files.corrupt!, 'corrupt', ['DECOMPRESS_CORRUPT']));

      if (options.corruptEarly !== false) {
        it('fails early damage in a long piped input with DECOMPRESS_CORRUPT, not a pipe error', () =>
          expectFailure(files.corruptEarly!, 'corrupt-early', ['DECOMPRESS_CORRUPT'], { piped: true }));
      }

      if (options.trailing !== false) {
        const codes = options.trailing ?? ['DECOMPRESS_TRAILING_DATA'];
        it(`refuses garbage after the last stream with ${codes.join(' or ')} and leaves no file`, () =>
          expectFailure(files.trailing!, 'trailing', codes));
      }

      it('stops at maxOutputBytes with EXPANSION_LIMIT', () =>
        expectFailure(files.one!, 'limited', ['EXPANSION_LIMIT'], { maxOutputBytes: 1 << 20 }));

      it('stops when the signal aborts, with its reason, leaving no output and no running child', async (t) => {
        const controller = new AbortController();
        const reason = new Error('stop now');
        // Aborted once the decoder is being fed (a decoder child has been started by then).
        const onInput = () => {
          if (controller.signal.aborted) return;
          t.diagnostic(`children running at the abort: ${runningChildren().length}`);
          controller.abort(reason);
        };
        await assert.rejects(
          decodeFile(plugin(), files.one!, target('aborted'), { signal: controller.signal, onInput }),
          (e) => e === reason || (e as Error).cause === reason,
        );
        await assert.rejects(fsp.stat(target('aborted')), { code: 'ENOENT' });
        assert.deepEqual(runningChildren(), [], 'the decoder child was reaped before the hook failed');
      });

      it('has a stream decoder that agrees with the hook (or says it has none)', async (t) => {
        if (!record!.decodeStream) {
          t.diagnostic(`${codec} has no stream decoder: a kind decodes it through the decompress hook only`);
          return;
        }
        await decodeFile(plugin(), files.one!, target('hook'));
        const streamed = await decodeStreamFile(record!, files.one!);
        assert.equal(sha256(streamed), sha256(await fsp.readFile(target('hook'))));
        assert.equal(sha256(streamed), sha256(disk));
        for (const [file, code] of [
          [files.truncated!, 'DECOMPRESS_TRUNCATED'],
          [files.corrupt!, 'DECOMPRESS_CORRUPT'],
        ] as const) {
          await assert.rejects(decodeStreamFile(record!, file), (error) => {
            assert.ok(isOcipullError(error), String(error));
            assert.equal(error.code, code, error.message);
            return true;
          });
        }
      });
    });
  }
}
