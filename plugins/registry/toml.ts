/**
 * The TOML subset containers' registries.conf uses: `[table]`, `[[array.of.tables]]`,
 * `key = value` with basic/literal strings, booleans, integers and (multi-line) arrays of them,
 * and `#` comments. Inline tables and dates are refused with the line number.
 */
import { OcipullError } from 'ocipull';

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable | TomlTable[];
export interface TomlTable {
  [key: string]: TomlValue;
}

function fail(file: string, line: number, problem: string): never {
  throw new OcipullError('CONFIG_LOAD_FAILED', `${file}:${line}: ${problem}`, {
    hint: 'registries.conf must be TOML (containers-registries.conf(5))',
  });
}

/** Split a key path `a.b."c d"`. */
function keyPath(text: string, file: string, line: number): string[] {
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) fail(file, line, `bad key ${JSON.stringify(text)}`);
    parts.push(m[1] !== undefined ? JSON.parse(`"${m[1]}"`) : (m[2] ?? m[3]!));
    pos = re.lastIndex;
    if (m[4] === '') break;
  }
  return parts;
}

class Cursor {
  pos = 0;
  constructor(
    readonly text: string,
    public line: number,
  ) {}
}

function skipSpace(c: Cursor, newlines: boolean): void {
  for (;;) {
    const ch = c.text[c.pos];
    if (ch === ' ' || ch === '\t' || ch === '\r') c.pos++;
    else if (ch === '\n' && newlines) {
      c.pos++;
      c.line++;
    } else if (ch === '#') {
      while (c.pos < c.text.length && c.text[c.pos] !== '\n') c.pos++;
    } else return;
  }
}

const SCALARS: [RegExp, (m: RegExpExecArray) => TomlValue][] = [
  [
    /^"((?:[^"\\\n]|\\.)*)"/,
    (m) =>
      JSON.parse(
        `"${m[1]!.replace(/\\U([0-9a-fA-F]{8})/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))}"`,
      ) as string,
  ],
  [/^'([^'\n]*)'/, (m) => m[1]!],
  [/^(true|false)\b/, (m) => m[1] === 'true'],
  [/^[+-]?\d[\d_]*\b(?![.:-])/, (m) => Number(m[0].replace(/_/g, ''))],
];

function value(c: Cursor, file: string): TomlValue {
  const rest = c.text.slice(c.pos);
  for (const [re, make] of SCALARS) {
    const m = re.exec(rest);
    if (m) {
      c.pos += m[0].length;
      return make(m);
    }
  }
  if (rest.startsWith('[')) {
    c.pos++;
    const items: TomlValue[] = [];
    for (;;) {
      skipSpace(c, true);
      if (c.text[c.pos] === ']') {
        c.pos++;
        return items;
      }
      items.push(value(c, file));
      skipSpace(c, true);
      if (c.text[c.pos] === ',') c.pos++;
      else if (c.text[c.pos] !== ']') fail(file, c.line, 'expected , or ] in an array');
    }
  }
  return fail(file, c.line, `unsupported value ${JSON.stringify(rest.split('\n')[0]!.slice(0, 40))}`);
}

export function parseToml(text: string, file = 'TOML'): TomlTable {
  const root: TomlTable = {};
  let current = root;
  const c = new Cursor(text, 1);
  const descend = (path: string[], arrayLast: boolean): TomlTable => {
    let table = root;
    path.forEach((key, i) => {
      const last = i === path.length - 1;
      let next = table[key];
      if (last && arrayLast) {
        if (next === undefined) next = table[key] = [];
        if (!Array.isArray(next)) fail(file, c.line, `${path.join('.')} is not an array of tables`);
        const fresh: TomlTable = {};
        (next as TomlTable[]).push(fresh);
        table = fresh;
        return;
      }
      if (next === undefined) next = table[key] = {};
      if (Array.isArray(next)) next = next[next.length - 1] as TomlTable; // [[a]] then [a.b]: the last element
      if (typeof next !== 'object' || next === null) fail(file, c.line, `${path.join('.')} is not a table`);
      table = next as TomlTable;
    });
    return table;
  };
  for (;;) {
    skipSpace(c, true);
    if (c.pos >= text.length) return root;
    const lineEnd = text.indexOf('\n', c.pos) === -1 ? text.length : text.indexOf('\n', c.pos);
    const line = text.slice(c.pos, lineEnd);
    const trimmed = line.trimEnd();
    const arrayTable = /^\[\[\s*([^\]]+?)\s*\]\]\s*(#.*)?$/.exec(trimmed);
    const table = arrayTable ? null : /^\[\s*([^\]]+?)\s*\]\s*(#.*)?$/.exec(trimmed);
    const assignment =
      arrayTable || table ? null : /^((?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.\s-])+?)\s*=\s*/.exec(line);
    if (arrayTable) {
      current = descend(keyPath(arrayTable[1]!, file, c.line), true);
      c.pos = lineEnd;
    } else if (table) {
      current = descend(keyPath(table[1]!, file, c.line), false);
      c.pos = lineEnd;
    } else if (assignment) {
      const path = keyPath(assignment[1]!, file, c.line);
      c.pos += assignment[0].length;
      const v = value(c, file);
      let target = current;
      for (const key of path.slice(0, -1)) {
        if (target[key] === undefined) target[key] = {};
        target = target[key] as TomlTable;
      }
      target[path[path.length - 1]!] = v;
      skipSpace(c, false);
      if (c.pos < text.length && text[c.pos] !== '\n') fail(file, c.line, 'unexpected text after a value');
    } else {
      fail(file, c.line, `cannot read ${JSON.stringify(line.slice(0, 60))}`);
    }
  }
}
