/**
 * The `user.*` extended attributes of a tree. Node has no xattr API, so they are read with
 * `getfattr` (Debian's `attr` package) in one recursive, physical run over the whole tree: it
 * prints only the files that have such attributes, so memory follows their count, not the tree's.
 * The values come base64-encoded (binary values stay exact); file names come with getfattr's
 * backslash-octal escapes, undone here byte by byte.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { findExecutable, OcipullError } from 'ocipull';

/** Absolute path → attribute name → value. */
export type XattrTable = Map<string, Map<string, Buffer>>;

/** Whether `getfattr` is on PATH. */
export function hasGetfattr(): boolean {
  return findExecutable('getfattr') !== undefined;
}

/** Undo getfattr's quoting (`\\` and `\ooo`) of a name read as latin1, giving its UTF-8 string. */
export function unquote(quoted: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < quoted.length; i++) {
    const ch = quoted.charCodeAt(i);
    if (ch === 0x5c && quoted[i + 1] === '\\') {
      bytes.push(0x5c);
      i++;
    } else if (ch === 0x5c && /^[0-7]{3}$/.test(quoted.slice(i + 1, i + 4))) {
      bytes.push(Number.parseInt(quoted.slice(i + 1, i + 4), 8));
      i += 3;
    } else bytes.push(ch);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The `user.*` attributes of every file under `root` that has some. */
export async function readUserXattrs(root: string, signal?: AbortSignal): Promise<XattrTable> {
  const tool = findExecutable('getfattr');
  if (!tool) {
    throw new OcipullError(
      'UNSUPPORTED',
      'reading xattrs needs the getfattr program, which is not installed',
      {
        hint: 'install it (Debian: apt install attr), or pass xattrs: false to leave xattrs out of the layer',
      },
    );
  }
  const child = spawn(
    tool,
    [
      '--recursive',
      '--physical',
      '--no-dereference',
      '--absolute-names',
      '--dump',
      '--match=^user\\.',
      '--encoding=base64',
      root,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], signal },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const closed = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const table: XattrTable = new Map();
  let current: Map<string, Buffer> | undefined;
  child.stdout.setEncoding('latin1');
  for await (const line of createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      table.set(unquote(line.slice(8)), current);
    } else if (line && current) {
      const eq = line.indexOf('=');
      const name = unquote(eq < 0 ? line : line.slice(0, eq));
      const value = eq < 0 ? '' : line.slice(eq + 1);
      current.set(
        name,
        value.startsWith('0s')
          ? Buffer.from(value.slice(2), 'base64')
          : Buffer.from(value.replace(/^"|"$/g, ''), 'latin1'),
      );
    }
  }
  const code = await closed;
  if (code !== 0) {
    throw new OcipullError(
      'TREE_INPUT_INVALID',
      `getfattr could not read the xattrs under ${root} (exit ${code}): ${stderr.trim()}`,
      {
        hint: 'the tree must be readable on a filesystem with xattr support; pass xattrs: false to leave xattrs out',
      },
    );
  }
  return table;
}
