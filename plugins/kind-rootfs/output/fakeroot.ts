/**
 * Rootless trees hold the user's owners and usable modes; their real metadata is in the record.
 * A disk tool (mkfs.ext4 -d, mkfs.erofs) run under fakeroot after chown / chmod / mknod in the
 * same session sees the image's owners, modes and device nodes and writes those into the disk,
 * while the files on disk keep modes the user can read. Commands are batched by value through
 * xargs, so a large tree is a few processes, not one per file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { EntryMeta } from '../apply/record.js';
import { runTool } from './tools.js';
import { walkTree } from './walk.js';

const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
const arg = (path: string): string => (path === '' ? '.' : `./${path}`);

/**
 * Run `command` (argv; `{tree}` is the tree) under fakeroot, after the record's metadata has been
 * applied in the same session. Device nodes that only the record holds are made (as fakeroot's
 * placeholders) and removed again at the end.
 */
export async function underFakeroot(
  tree: string,
  record: Map<string, EntryMeta>,
  command: string[],
  signal?: AbortSignal,
  xattrDump = '',
): Promise<void> {
  const work = await mkdtemp(join(dirname(tree), '.rootfs-fakeroot-'));
  try {
    const owners = new Map<string, string[]>();
    const modes = new Map<string, string[]>();
    const script: string[] = ['set -e', `cd ${quote(tree)}`];
    const made: string[] = [];
    const times: string[] = [];
    const parentTimes: string[] = [];
    const dirTimes = new Map<string, number>();
    for await (const entry of walkTree(tree, record)) {
      const { meta, path } = entry;
      if (entry.meta.type === 'directory') dirTimes.set(path, entry.mtime);
      if (!entry.onDisk) {
        const [major, minor] = meta.rdev ?? [0, 0];
        script.push(
          `mknod -m ${meta.mode.toString(8)} ${quote(arg(path))} ${meta.type === 'char' ? 'c' : 'b'} ${major} ${minor}`,
        );
        made.push(path);
        times.push(`touch -h -d @${Math.floor(entry.mtime)} ${quote(arg(path))}`);
        const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
        parentTimes.push(`touch -c -h -d @${dirTimes.get(parent) ?? 0} ${quote(arg(parent))}`);
      }
      if (!record.has(path)) continue;
      const owner = `${meta.uid}:${meta.gid}`;
      owners.set(owner, [...(owners.get(owner) ?? []), arg(path)]);
      if (meta.type !== 'symlink') {
        const mode = meta.mode.toString(8).padStart(4, '0');
        modes.set(mode, [...(modes.get(mode) ?? []), arg(path)]);
      }
    }
    let n = 0;
    const batch = async (list: string[]): Promise<string> => {
      const file = join(work, `list-${n++}`);
      await writeFile(file, `${list.join('\0')}\0`);
      return quote(file);
    };
    for (const [owner, list] of owners)
      script.push(`xargs -0 -r chown -h ${owner} -- < ${await batch(list)}`);
    // chown clears setuid / setgid: modes come after owners.
    for (const [mode, list] of modes) script.push(`xargs -0 -r chmod ${mode} -- < ${await batch(list)}`);
    // fakeroot answers xattr calls from its own table: the tree's user.* attributes are set again
    // in the session (setfattr --restore of getfattr's dump), so mkfs reads them.
    if (xattrDump !== '') {
      const dump = join(work, 'xattrs');
      await writeFile(dump, Buffer.from(xattrDump, 'latin1'));
      script.push(`setfattr -h --restore=${quote(dump)}`);
    }
    script.push(...times, ...parentTimes);
    script.push(command.map((a) => (a === '{tree}' ? '.' : quote(a))).join(' '));
    // The placeholders go, and their directories get their times back: the tree is as it was.
    for (const path of made) script.push(`rm -f -- ${quote(arg(path))}`);
    script.push(...parentTimes);
    const file = join(work, 'script.sh');
    await writeFile(file, `${script.join('\n')}\n`);
    await runTool('fakeroot', ['--', 'sh', file], { signal });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
