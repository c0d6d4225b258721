/**
 * `pack` takes every codec fact from the codec records: a third party's codec with an encoder can
 * be named by `--compress` (its encoder compresses, its layer media type and title extension are
 * written, its magic makes an already compressed input be published as it is), and the CLI's
 * `--compress` choices and help come from the records.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  type CodecInfo,
  createLogger,
  isOcipullError,
  layoutBlobPath,
  Orchestrator,
  type Plugin,
  runPack,
} from 'ocipull';
import { runCli } from '../support/cli.js';
import { seededBytes } from '../support/codec.js';
import { useBuiltins } from '../support/files.js';
import { tempDir } from '../support/paths.js';

const xor = (bytes: Buffer) => Buffer.from(bytes.map((b) => b ^ 0x5a));

/** A toy codec: magic "TOY1", then every byte XOR 0x5a; an in-process encoder only. */
const TOY: CodecInfo = {
  name: 'toy',
  magic: [Buffer.from('TOY1')],
  extensions: ['toy'],
  mediaTypes: ['application/x-toy'],
  layerMediaType: 'application/vnd.example.toy',
  encoder: {
    stream: () => {
      let started = false;
      return new Transform({
        transform(chunk: Buffer, _enc, callback) {
          const body = xor(chunk);
          callback(null, started ? body : Buffer.concat([Buffer.from('TOY1'), body]));
          started = true;
        },
      });
    },
  },
};

const toyPlugin: Plugin = {
  name: 'test-codec-toy',
  apply: (orchestrator) => orchestrator.codecs.register(TOY),
};

describe('pack through the codec records', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let raw: string;
  const disk = seededBytes('pack-codecs', 200_000);
  before(async () => {
    tmp = await tempDir('ocipull-pack-codecs-');
    raw = join(tmp.dir, 'disk.raw');
    await fsp.writeFile(raw, disk);
  });
  after(() => tmp.cleanup());

  const orchestrator = () =>
    useBuiltins(new Orchestrator({ log: createLogger('silent'), settings: { arch: 'x86_64' } }), [
      'oci-dir',
      'codec-none',
      'codec-zstd',
    ]).then((o) => o.use(toyPlugin));

  it("compresses with a registered codec's encoder and writes its media type and title extension", async () => {
    const layout = join(tmp.dir, 'toy-layout');
    const result = await runPack(await orchestrator(), {
      destination: `oci-dir:${layout}:v1`,
      disks: [{ hypervisor: 'applehv', path: raw }],
      compress: 'toy',
    });
    const packed = result.disks[0]!;
    assert.equal(packed.codec, 'toy');
    assert.equal(packed.mediaType, 'application/vnd.example.toy');
    assert.equal(packed.title, 'podman-machine.x86_64.applehv.raw.toy');
    const blob = await fsp.readFile(layoutBlobPath(layout, packed.blobDigest));
    assert.deepEqual(blob, Buffer.concat([Buffer.from('TOY1'), xor(disk)]));
  });

  it("publishes an input already in a registered codec as it is, found by the record's magic", async () => {
    const toy = join(tmp.dir, 'disk.raw.toy');
    await fsp.writeFile(toy, Buffer.concat([Buffer.from('TOY1'), xor(disk)]));
    const layout = join(tmp.dir, 'as-is-layout');
    const result = await runPack(await orchestrator(), {
      destination: `oci-dir:${layout}:v1`,
      disks: [{ hypervisor: 'applehv', path: toy }],
    });
    assert.equal(result.disks[0]!.codec, 'toy');
    assert.deepEqual(
      await fsp.readFile(layoutBlobPath(layout, result.disks[0]!.blobDigest)),
      await fsp.readFile(toy),
    );
  });

  it('refuses a codec with no encoder for an uncompressed input, naming the ones that have one', async () => {
    const o = await useBuiltins(await orchestrator(), ['codec-bzip2']);
    await assert.rejects(
      runPack(o, {
        destination: `oci-dir:${join(tmp.dir, 'never')}`,
        disks: [{ hypervisor: 'applehv', path: raw }],
        compress: 'bzip2',
      }),
      (error) => {
        assert.ok(isOcipullError(error, 'PACK_INPUT_INVALID'), String(error));
        assert.match(error.hint ?? '', /choose one of none, zstd, toy/);
        return true;
      },
    );
    await assert.rejects(fsp.stat(join(tmp.dir, 'never')), { code: 'ENOENT' });
  });

  it("the CLI's --compress help and its refusal of an unknown codec list the codecs with an encoder", async () => {
    const help = await runCli(['pack', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(
      help.stdout.replace(/\s+/g, ' '),
      /codec for uncompressed disks: zstd, xz, gzip, none \(default zstd\); bzip2 and zip only name/,
    );
    const refused = await runCli([
      'pack',
      `oci-dir:${join(tmp.dir, 'cli')}`,
      '--disk',
      `applehv=${raw}`,
      '--compress',
      'lz4',
    ]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /error \[USAGE\]: --compress "lz4" is not a codec/);
    assert.match(refused.stderr, /choose one of zstd, xz, gzip, none/);
  });
});
