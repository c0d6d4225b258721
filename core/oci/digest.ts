import { createHash, type Hash } from 'node:crypto';
import { OcipullError } from '../errors/errors.js';

/** Digest algorithms ocipull verifies (image-spec descriptor.md "Registered algorithms"). */
const ALGORITHMS: Record<string, { node: string; hexLength: number }> = {
  sha256: { node: 'sha256', hexLength: 64 },
  sha512: { node: 'sha512', hexLength: 128 },
};

export interface ParsedDigest {
  algorithm: string;
  hex: string;
}

/** Parse and check `algorithm:hex`. Throws DIGEST_INVALID naming what is accepted. */
export function parseDigest(digest: string): ParsedDigest {
  const match = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(digest);
  const algorithm = match?.[1];
  const hex = match?.[2];
  const known = algorithm ? ALGORITHMS[algorithm] : undefined;
  if (!algorithm || !hex || !known) {
    throw new OcipullError('DIGEST_INVALID', `invalid digest ${JSON.stringify(digest)}`, {
      hint: 'expected sha256:<64 hex> or sha512:<128 hex>',
    });
  }
  if (hex.length !== known.hexLength || !/^[a-f0-9]+$/.test(hex)) {
    throw new OcipullError('DIGEST_INVALID', `invalid ${algorithm} digest ${JSON.stringify(digest)}`, {
      hint: `expected ${known.hexLength} lowercase hex characters after "${algorithm}:"`,
    });
  }
  return { algorithm, hex };
}

export function isDigest(value: string): boolean {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

export function createDigester(algorithm = 'sha256'): Hash {
  const known = ALGORITHMS[algorithm];
  if (!known) throw new OcipullError('DIGEST_INVALID', `unsupported digest algorithm ${algorithm}`);
  return createHash(known.node);
}

export function digestOf(bytes: Uint8Array, algorithm = 'sha256'): string {
  return `${algorithm}:${createDigester(algorithm).update(bytes).digest('hex')}`;
}

/**
 * Incremental verification of a byte stream against a descriptor's digest and size.
 * Feed every byte through `update`; `finish` throws SIZE_MISMATCH or DIGEST_MISMATCH.
 */
export class DigestVerifier {
  readonly expected: string;
  readonly size: number;
  private readonly hash: Hash;
  private readonly algorithm: string;
  private count = 0;

  constructor(
    expected: { digest: string; size: number },
    private readonly what = 'blob',
  ) {
    const { algorithm } = parseDigest(expected.digest);
    this.algorithm = algorithm;
    this.expected = expected.digest;
    this.size = expected.size;
    this.hash = createDigester(algorithm);
  }

  get received(): number {
    return this.count;
  }

  update(chunk: Uint8Array): void {
    this.count += chunk.length;
    if (this.count > this.size) {
      throw new OcipullError(
        'SIZE_MISMATCH',
        `${this.what} ${this.expected} is larger than the ${this.size} bytes its descriptor states`,
        {
          data: { digest: this.expected, expectedSize: this.size },
        },
      );
    }
    this.hash.update(chunk);
  }

  finish(): string {
    if (this.count !== this.size) {
      throw new OcipullError(
        'SIZE_MISMATCH',
        `${this.what} ${this.expected} ended after ${this.count} of ${this.size} bytes`,
        {
          data: { digest: this.expected, expectedSize: this.size, receivedSize: this.count },
        },
      );
    }
    const actual = `${this.algorithm}:${this.hash.digest('hex')}`;
    if (actual !== this.expected) {
      throw new OcipullError(
        'DIGEST_MISMATCH',
        `${this.what} content hashes to ${actual}, not ${this.expected}`,
        {
          data: { expected: this.expected, actual },
        },
      );
    }
    return actual;
  }
}

/** Check a whole buffer against a descriptor. */
export function verifyBytes(
  bytes: Uint8Array,
  expected: { digest: string; size: number },
  what = 'content',
): void {
  const verifier = new DigestVerifier(expected, what);
  verifier.update(bytes);
  verifier.finish();
}
