/**
 * `WWW-Authenticate` parsing (RFC 7235 §4.1): one or more challenges, each a scheme followed by
 * auth-params (`key=value` or `key="quoted \" value"`), separated by commas.
 * Registries send `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`.
 */

export interface Challenge {
  /** Lowercased scheme: `bearer`, `basic`, ... */
  scheme: string;
  /** Parameters with lowercased keys. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/** Parse a header value (or several joined by commas) into its challenges. Malformed parts are skipped. */
export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) out.push(...parseOne(value));
  return out;
}

function parseOne(value: string): Challenge[] {
  const challenges: Challenge[] = [];
  let s = value;
  let current: Challenge | undefined;
  const skip = () => {
    s = s.replace(/^[\s,]+/, '');
  };
  skip();
  while (s.length > 0) {
    const token = TOKEN.exec(s)?.[0];
    if (!token) {
      // Unparseable: drop one character and carry on, so one bad byte does not hide a challenge.
      s = s.slice(1);
      skip();
      continue;
    }
    const after = s.slice(token.length);
    const param = /^\s*=\s*/.exec(after);
    if (param && current && !/^=/.test(after.slice(param[0].length))) {
      s = after.slice(param[0].length);
      let val: string;
      if (s.startsWith('"')) {
        let i = 1;
        val = '';
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          val += s[i];
          i++;
        }
        s = s.slice(i + 1);
      } else {
        const bare = /^[^\s,]*/.exec(s)![0];
        val = bare;
        s = s.slice(bare.length);
      }
      current.params[token.toLowerCase()] = val;
      skip();
      continue;
    }
    // A new scheme (a token68 after it, as in `Negotiate abc==`, is kept as param `token68`).
    current = { scheme: token.toLowerCase(), params: {} };
    challenges.push(current);
    s = after;
    const t68 = /^ +([A-Za-z0-9._~+/-]+=*)\s*(?:,|$)/.exec(s);
    if (t68 && !/^ +[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*=[^=]/.test(s)) {
      current.params.token68 = t68[1]!;
      s = s.slice(t68[0].length);
    }
    skip();
  }
  return challenges;
}

/** The challenge ocipull answers: Bearer preferred over Basic. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}
