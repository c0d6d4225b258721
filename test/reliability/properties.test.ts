/**
 * Property-based tests (fast-check, fixed seeds) on the parsers that take untrusted text: the
 * registry reference parser, the WWW-Authenticate parser and the manifest validators.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { type Descriptor, isOcipullError, MediaTypes, parseDocument } from 'ocipull';
import { repoRoot } from '../support/paths.js';
import { ran } from './figures.js';

type Ref = { registry: string; repository: string; tag?: string; digest?: string };
type Challenge = { scheme: string; params: Record<string, string> };
const load = async <T>(path: string): Promise<T> =>
  (await import(pathToFileURL(join(repoRoot, 'dist', path)).href)) as T;
const { parseReference, formatReference } = await load<{
  parseReference(s: string): Ref;
  formatReference(r: Ref): string;
}>('plugins/registry/reference.js');
const { parseWwwAuthenticate } = await load<{ parseWwwAuthenticate(h: string | string[]): Challenge[] }>(
  'plugins/registry/auth/challenge.js',
);
const { findDuplicateKey } = await load<{ findDuplicateKey(text: string): string | undefined }>(
  'core/oci/documents.js',
);

const RUNS = 1000;
const options = (seed: number) => ({ seed, numRuns: RUNS });

/** Inputs checked by the current case: generated runs that passed plus the hand-built ones. */
let inputs = 0;
/** fc.assert that counts the runs it made (fast-check's own figure, not RUNS restated). */
function checked<Ts>(property: fc.IProperty<Ts>, params: fc.Parameters<Ts>): void {
  const details = fc.check(property, params) as fc.RunDetails<Ts>;
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? 'property failed');
  inputs += details.numRuns;
}
/** The count so far, for ran(); the next case starts from zero. */
function counted(): { inputs: number } {
  const n = inputs;
  inputs = 0;
  return { inputs: n };
}
/** Any text, control and non-BMP characters included. */
const anyText = fc.string({ unit: 'binary', maxLength: 300 });

/** Run `fn`, allowing only OcipullErrors of `codes`; returns whether it threw. */
function onlyCoded(fn: () => unknown, codes: string[]): boolean {
  try {
    fn();
    return false;
  } catch (error) {
    assert.ok(isOcipullError(error), `not a coded error: ${String(error)}`);
    assert.ok(codes.includes(error.code), `unexpected ${error.code}: ${error.message}`);
    return true;
  }
}

const hex = (n: number) => fc.stringMatching(new RegExp(`^[a-f0-9]{${n}}$`));
const component = fc.stringMatching(/^[a-z0-9]{1,8}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,8}){0,2}$/);
const host = fc.oneof(
  fc.stringMatching(/^[a-z0-9]{1,10}(?:\.[a-z0-9]{1,10}){1,3}$/),
  fc.constant('localhost'),
  fc.ipV4(),
);
const validRef = fc.record({
  registry: fc
    .tuple(host, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
    .map(([h, p]) => (p === undefined ? h : `${h}:${p}`)),
  repository: fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => c.join('/')),
  tag: fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,40}$/), { nil: undefined }),
  digest: fc.option(
    hex(64).map((h) => `sha256:${h}`),
    { nil: undefined },
  ),
});

describe('property: registry references', () => {
  it('prop.reference: any text parses or is refused with REFERENCE_INVALID; accepted ones round-trip', () => {
    checked(
      fc.property(anyText, (text) => {
        let ref: Ref | undefined;
        onlyCoded(() => {
          ref = parseReference(text);
        }, ['REFERENCE_INVALID']);
        if (ref) {
          assert.doesNotMatch(text.replace(/^\/\//, ''), /[\s\u0000-\u001f\u007f]/);
          assert.deepEqual(parseReference(formatReference(ref)), ref, 'normalization is idempotent');
        }
      }),
      options(41),
    );
    checked(
      fc.property(validRef, (r) => {
        const text = formatReference(r);
        assert.deepEqual(parseReference(text), JSON.parse(JSON.stringify(r)));
        assert.equal(formatReference(parseReference(`//${text}`)), text);
      }),
      options(42),
    );
    checked(
      fc.property(
        validRef,
        fc.nat(),
        fc.constantFrom('\u0000', '\u0007', '\u001b', '\n', '\t', ' ', '\u007f'),
        (r, at, c) => {
          const text = formatReference(r);
          const i = at % (text.length + 1);
          onlyCoded(() => parseReference(text.slice(0, i) + c + text.slice(i)), ['REFERENCE_INVALID']);
          assert.throws(() => parseReference(text.slice(0, i) + c + text.slice(i)));
        },
      ),
      options(43),
    );
    // Long inputs of the shapes that make a backtracking pattern explode: the valid one parses,
    // the near-misses are refused (how fast is the benchmark's business, not a test's).
    // The 255-character limit is the repository path's, after `library/` (distribution's rule).
    assert.equal(parseReference('a'.repeat(247)).repository, `library/${'a'.repeat(247)}`);
    assert.ok(
      onlyCoded(() => parseReference('a'.repeat(248)), ['REFERENCE_INVALID']),
      '256 characters refused',
    );
    inputs += 2;
    for (const evil of [`${'a-'.repeat(120)}!`, `${'a.'.repeat(5000)}A`, `h/${'a__'.repeat(80)}_`]) {
      assert.ok(
        onlyCoded(() => parseReference(evil), ['REFERENCE_INVALID']),
        `${evil.slice(0, 20)}… refused`,
      );
      inputs++;
    }
    ran('prop.reference', counted());
  });
});

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,12}$/);
const quoted = (v: string) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;

describe('property: WWW-Authenticate', () => {
  it('prop.www-authenticate: never throws; formatted challenges parse back exactly', () => {
    checked(
      fc.property(fc.oneof(anyText, fc.array(anyText, { maxLength: 4 })), (header) => {
        const parsed = parseWwwAuthenticate(header);
        assert.ok(Array.isArray(parsed));
        for (const c of parsed) assert.equal(c.scheme, c.scheme.toLowerCase());
      }),
      options(51),
    );
    const challenge = fc.record({
      scheme: fc.constantFrom('Bearer', 'Basic', 'bearer', 'Digest'),
      params: fc.dictionary(token, fc.string({ unit: 'grapheme-ascii', maxLength: 40 }), {
        minKeys: 1,
        maxKeys: 4,
      }),
    });
    checked(
      fc.property(fc.array(challenge, { minLength: 1, maxLength: 3 }), (challenges) => {
        const header = challenges
          .map(
            (c) =>
              `${c.scheme} ${Object.entries(c.params)
                .map(([k, v]) => `${k}=${quoted(v)}`)
                .join(', ')}`,
          )
          .join(', ');
        const parsed = parseWwwAuthenticate(header);
        const expected = challenges.map((c) => {
          const params: Record<string, string> = {};
          for (const [k, v] of Object.entries(c.params)) params[k.toLowerCase()] = v;
          return { scheme: c.scheme.toLowerCase(), params };
        });
        assert.deepEqual(
          parsed.map((c) => ({ scheme: c.scheme, params: { ...c.params } })),
          expected,
          header,
        );
      }),
      options(52),
    );
    // Huge headers parse to what they say: one parameter whose value is the rest, an unterminated
    // quoted value of 20k escaped backslashes, nothing at all.
    const params = (header: string) => {
      inputs++;
      return parseWwwAuthenticate(header).map((c) => ({ scheme: c.scheme, params: { ...c.params } }));
    };
    assert.deepEqual(params(`Bearer ${'a='.repeat(20_000)}`), [
      { scheme: 'bearer', params: { a: 'a='.repeat(19_999) } },
    ]);
    assert.deepEqual(params(`Bearer realm="${'\\'.repeat(40_000)}`), [
      { scheme: 'bearer', params: { realm: '\\'.repeat(20_000) } },
    ]);
    assert.deepEqual(params(','.repeat(50_000)), []);
    ran('prop.www-authenticate', counted());
  });
});

const digest = hex(64).map((h) => `sha256:${h}`);
const descriptor = fc.record({
  mediaType: fc.constantFrom('application/zstd', MediaTypes.ociLayerTar, 'application/octet-stream'),
  digest,
  size: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  annotations: fc.option(fc.dictionary(token, fc.string({ maxLength: 20 }), { maxKeys: 3 }), {
    nil: undefined,
  }),
});
const manifest = fc.record({
  schemaVersion: fc.constant(2),
  mediaType: fc.constant(MediaTypes.ociManifest),
  config: descriptor,
  layers: fc.array(descriptor, { maxLength: 3 }),
});
const at = (bytes: Buffer): Descriptor => ({
  mediaType: MediaTypes.ociManifest,
  digest: `sha256:${'0'.repeat(64)}`,
  size: bytes.length,
});
const DOC_CODES = ['MANIFEST_INVALID', 'MEDIA_TYPE_UNSUPPORTED', 'DIGEST_INVALID', 'MANIFEST_TOO_LARGE'];

describe('property: manifest validators', () => {
  it('prop.documents: any bytes or JSON give a document or a coded refusal; valid manifests keep their layers; broken sizes and duplicate keys are refused', () => {
    checked(
      fc.property(fc.oneof(anyText, fc.json()), (text) => {
        const bytes = Buffer.from(text);
        onlyCoded(() => parseDocument(bytes, { ...at(bytes), mediaType: '' }), DOC_CODES);
      }),
      options(61),
    );
    checked(
      fc.property(manifest, (m) => {
        const bytes = Buffer.from(JSON.stringify(m));
        const doc = parseDocument(bytes, at(bytes));
        assert.equal(doc.kind, 'manifest');
        if (doc.kind === 'manifest')
          assert.deepEqual(
            JSON.parse(JSON.stringify(doc.manifest.layers)),
            JSON.parse(JSON.stringify(m.layers)),
          );
      }),
      options(62),
    );
    const badSize = fc.oneof(
      fc.integer({ max: -1 }),
      fc.double({ noInteger: true }),
      fc.string(),
      fc.constant(null),
      fc.constant(2 ** 53),
    );
    checked(
      fc.property(
        manifest.filter((m) => m.layers.length > 0),
        badSize,
        fc.nat(),
        (m, size, pick) => {
          const layers = m.layers.map((l, i) => (i === pick % m.layers.length ? { ...l, size } : l));
          const bytes = Buffer.from(JSON.stringify({ ...m, layers }));
          assert.ok(
            onlyCoded(() => parseDocument(bytes, at(bytes)), ['MANIFEST_INVALID']),
            'refused',
          );
        },
      ),
      options(63),
    );
    // Duplicate keys: JSON.stringify never writes one; splicing a key in twice is always found.
    checked(
      fc.property(fc.json(), token, fc.json(), (value, key, other) => {
        const clean = JSON.stringify(JSON.parse(value));
        assert.equal(findDuplicateKey(clean), undefined, clean);
        const escaped = key.replace(/^./, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
        const twice = `{"${key}":${value},"x":[{"${key}":1}],"${escaped}":${other}}`;
        assert.equal(findDuplicateKey(twice), key, twice);
      }),
      options(64),
    );
    ran('prop.documents', counted());
  });
});
