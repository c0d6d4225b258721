/**
 * The conformance kit fails a transport that breaks the contract: a memory transport written as
 * a third-party package (plain ESM importing `ocipull` and `ocipull/testkit/transport` by name)
 * that ignores `offset` yet says it honoured it, and fails a missing reference with a plain Error.
 * Its test file is run by node in a child; the kit's checks for exactly those two
 * faults fail and the others pass.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, tempDir } from '../support/paths.js';

const LYING = `
import { Readable } from 'node:stream';
import { OcipullError } from 'ocipull';
import { transportConformance } from 'ocipull/testkit/transport';

const stores = new Map();
class LyingTransport {
  name = 'ocipull-plugin-lying';
  apply(orchestrator) {
    orchestrator.hooks.resolve.for('lying').tapPromise(this.name, async ({ ref }) => {
      const content = stores.get(ref.rest);
      if (!content) throw new Error('no such thing: ' + ref.rest);
      return { scheme: 'lying', reference: 'lying:' + ref.rest, root: content.index.descriptor };
    });
    orchestrator.hooks.fetch.for('lying').tapPromise(this.name, async ({ source, descriptor, offset }) => {
      const content = stores.get(source.reference.slice('lying:'.length));
      const found = [...content.blobs, ...content.documents].find((i) => i.descriptor.digest === descriptor.digest);
      if (!found) throw new OcipullError('BLOB_NOT_FOUND', 'no blob ' + descriptor.digest);
      // The fault: every byte from 0, while saying they start at the offset asked for.
      return { body: Readable.from([found.bytes]), offset };
    });
  }
}

transportConformance({
  name: 'lying',
  plugins: () => [new LyingTransport()],
  publish: async (content) => {
    stores.set(content.tag, content);
    return 'lying:' + content.tag;
  },
  missing: () => 'lying:never-published',
});
`;

function nodeTest(cwd: string, file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // A test file of its own, not a subtest of this run (node:test marks its children by env).
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(process.execPath, ['--test-reporter=spec', file], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the transport conformance kit', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-kit-catches-'));
    await mkdir(join(dir, 'node_modules'), { recursive: true });
    await symlink(repoRoot, join(dir, 'node_modules', 'ocipull'), 'dir');
    await writeFile(join(dir, 'lying.test.mjs'), LYING);
  });
  after(() => cleanup());

  it('fails a transport that misreports offsets and throws untyped not-found errors, and passes the rest', async () => {
    const { code, output } = await nodeTest(dir, 'lying.test.mjs');
    assert.notEqual(code, 0, output);
    const line = (name: RegExp) => output.split('\n').find((l) => name.test(l)) ?? '';
    assert.match(line(/the response says honestly where its bytes start/), /✖/, output);
    assert.match(line(/a reference that names nothing is a typed not-found error/), /✖/, output);
    // The core wraps the plain Error (PLUGIN_FAILED): typed, but not a not-found code.
    assert.match(output, /a not-found code \(exit 3\), not PLUGIN_FAILED/);
    assert.match(line(/fetch from offset 0: every byte/), /✔/, output);
    assert.match(line(/resolve: the reference resolves to the root descriptor/), /✔/, output);
    assert.match(line(/fetch of a digest the source does not hold/), /✔/, output);
    assert.match(output, /ℹ pass 4/);
    assert.match(output, /ℹ fail 2/);
  });
});
