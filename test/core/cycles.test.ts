import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/paths.js';

const coreDir = join(repoRoot, 'core');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')
      ? [path]
      : [];
  });
}

/**
 * The core files a file imports when it is loaded: `import … from`, `export … from` and bare
 * `import '…'` of relative paths. Type-only imports (`import type`, `export type`, or braces whose
 * every name is `type X`) are erased by the compiler and left out, and so are `import('…')`
 * expressions (loaded later, on demand).
 */
export function runtimeImports(file: string, text: string): string[] {
  const found: string[] = [];
  const statement =
    /^\s*(import|export)\s+([^;]*?)\s*from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (const match of text.matchAll(statement)) {
    const clause = match[2]?.trim() ?? '';
    const target = match[3] ?? match[4]!;
    if (!target.startsWith('.')) continue;
    if (/^type\s/.test(clause)) continue;
    const braces = /^\{([^}]*)\}$/s.exec(clause);
    if (braces) {
      const names = braces[1]!
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean);
      if (names.length > 0 && names.every((n) => n.startsWith('type '))) continue;
    }
    found.push(resolve(dirname(file), target.replace(/\.js$/, '.ts')));
  }
  return found;
}

/** The first import cycle found, as the list of files around it (first = last), or undefined. */
export function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    if (state.has(node)) continue;
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('core imports', () => {
  it('the parser sees value imports and leaves type-only ones out', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import { type C, type D } from './c.js';",
      "import {\n  e,\n  type F,\n} from './e.js';",
      "export { g } from './g.js';",
      "export type { H } from './h.js';",
      "import './side.js';",
      "import { x } from 'node:fs';",
    ].join('\n');
    const names = runtimeImports('/r/f.ts', text).map((p) => relative('/r', p));
    assert.deepEqual(names, ['a.ts', 'e.ts', 'g.ts', 'side.ts']);
    const cycle = findCycle(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
      ]),
    );
    assert.deepEqual(cycle, ['a', 'b', 'c', 'a']);
  });

  it('no core file imports itself back through others (no cycles at load time)', () => {
    const graph = new Map<string, string[]>();
    for (const file of sources(coreDir)) graph.set(file, runtimeImports(file, readFileSync(file, 'utf8')));
    assert.ok(graph.size > 50, `only ${graph.size} core files found`);
    const cycle = findCycle(graph);
    assert.equal(cycle, undefined, `import cycle: ${cycle?.map((f) => relative(repoRoot, f)).join(' → ')}`);
  });
});
