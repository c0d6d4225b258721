/** The one tar builder of the test suites: entries in, a tar's bytes out, the same bytes every run. */
import tar, { type Header } from 'tar-stream';

/** A tar-stream header; `size` is taken from the content. */
export type TarHeader = Partial<Header> & { name: string };

export interface TarEntry {
  header: TarHeader;
  content?: Buffer;
}

/** A tar of `entries` in order; unset fields default to mode 0644, mtime 0, root owner. */
export async function tarOf(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const { header, content } of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, ...header, size: content?.length ?? 0 },
        content ?? Buffer.alloc(0),
        (e) => (e ? reject(e) : resolve()),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A tar of regular files (name + bytes). */
export const tarOfFiles = (files: readonly { name: string; data: Buffer }[]): Promise<Buffer> =>
  tarOf(files.map((f) => ({ header: { name: f.name, type: 'file' }, content: f.data })));
