/**
 * Test hook for crash testing (docs/cli.md "Test hooks"): with `OCIPULL_TEST_PAUSE_AT=<point>`
 * (several comma-separated), a pull that reaches the named point prints
 * `ocipull: test pause at <point>` on stderr and waits there until it is killed. Points:
 * `manifest` (a document's response arrived, body not read), `blob` (half the blob fetched from
 * the source), `decompress` (half a cached blob fed to the decoder), `commit` (the cache entry
 * committed, the output not yet renamed into place). Unset, it costs one env lookup per point.
 */
export type PausePoint = 'manifest' | 'blob' | 'decompress' | 'commit';

export async function pauseAt(point: PausePoint): Promise<void> {
  const wanted = process.env.OCIPULL_TEST_PAUSE_AT;
  if (!wanted?.split(',').includes(point)) return;
  process.stderr.write(`ocipull: test pause at ${point}\n`);
  // A timer keeps the process alive; nothing resolves this promise.
  await new Promise<never>(() => setInterval(() => {}, 1 << 30));
}
