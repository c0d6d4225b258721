/**
 * The `user.*` extended attributes of a built tree, for the outputs: one `getfattr` run over the
 * whole tree (Node has no xattr call), values base64 so binary ones stay exact. The dump itself is
 * what `setfattr --restore` reads, so a fakeroot session can set them again (fakeroot answers
 * xattr calls from its own table, where the tree's real ones are not).
 */
import { spawn } from 'node:child_process';
import { findExecutable, type Logger } from 'ocipull';

export interface TreeXattrs {
  /** Tree-relative path (`/`-joined) → attribute name → value. */
  table: Map<string, [string, Buffer][]>;
  /** getfattr's dump (paths relative to the tree), for `setfattr --restore` run in the tree. */
  dump: string;
}

/** Undo getfattr's quoting of a file name (`\\` and `\ooo` octal bytes). */
function unquote(quoted: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(quoted, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && raw[i + 1] === 0x5c) {
      bytes.push(0x5c);
      i++;
    } else if (raw[i] === 0x5c && /^[0-7]{3}$/.test(raw.subarray(i + 1, i + 4).toString('latin1'))) {
      bytes.push(Number.parseInt(raw.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else bytes.push(raw[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}

function value(text: string): Buffer {
  if (text.startsWith('0s')) return Buffer.from(text.slice(2), 'base64');
  if (text.startsWith('0x')) return Buffer.from(text.slice(2), 'hex');
  return Buffer.from(JSON.parse(text) as string, 'utf8');
}

/**
 * Every `user.*` attribute under `tree`. Without getfattr (Debian: attr) the outputs carry none:
 * a warning, not a failure.
 */
export async function readTreeXattrs(tree: string, log?: Logger, signal?: AbortSignal): Promise<TreeXattrs> {
  const empty = { table: new Map(), dump: '' };
  const tool = findExecutable('getfattr');
  if (!tool) {
    log?.warn('getfattr is not installed (Debian: attr): the output carries no extended attributes');
    return empty;
  }
  const args = [
    '--recursive',
    '--physical',
    '--no-dereference',
    '--dump',
    '--match=^user\\.',
    '--encoding=base64',
    '.',
  ];
  const dump = await new Promise<string>((resolve, reject) => {
    const child = spawn(tool, args, { cwd: tree, stdio: ['ignore', 'pipe', 'pipe'], signal });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 4096) err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => {
      // getfattr exits 1 when some file has no attributes it may read; what it printed stands.
      if (status !== 0 && err.trim()) log?.warn(`getfattr: ${err.trim().split('\n')[0]}`);
      resolve(Buffer.concat(out).toString('latin1'));
    });
  });
  const table = new Map<string, [string, Buffer][]>();
  let current: [string, Buffer][] | undefined;
  for (const line of dump.split('\n')) {
    if (line.startsWith('# file: ')) {
      const quoted = unquote(line.slice('# file: '.length));
      const name = quoted === '.' ? '' : quoted.startsWith('./') ? quoted.slice(2) : quoted;
      current = [];
      table.set(name, current);
    } else if (current && line !== '' && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      if (eq > 0) current.push([unquote(line.slice(0, eq)), value(line.slice(eq + 1))]);
    }
  }
  return { table, dump };
}
