import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundFlush } from './flush.js';

describe('BackgroundFlush', () => {
  it('flushes while a file is written, and stops before its descriptor is closed', async () => {
    const dir = await fsp.mkdtemp(join(tmpdir(), 'ocipull-flush-'));
    try {
      const handle = await fsp.open(join(dir, 'f'), 'w');
      const flusher = new BackgroundFlush(handle.fd, 5);
      const chunk = Buffer.alloc(1 << 20, 7);
      for (let i = 0; i < 8; i++) {
        await handle.write(chunk);
        await sleep(10);
      }
      await flusher.stop();
      const started = flusher.flushes;
      assert.ok(started > 0, 'flushed while writing');
      await handle.close();
      await sleep(30);
      assert.equal(flusher.flushes, started, 'no flush after stop()');
      assert.equal((await fsp.stat(join(dir, 'f'))).size, 8 << 20);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
