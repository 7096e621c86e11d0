/**
 * JSON paths in judgements and noise rules.
 *
 * A path names a value in the golden's probe records: `$.probes.timeline.json.items[0].name`.
 * Rules (manifest golden.ignore / tolerate / unorderedArrays, learned noise) may use wildcards:
 * `[*]` or `.*` (any one key or index) and `..` (any depth), and are matched against
 *   - the full path, e.g. `$.probes.timeline.json.items[*].updatedAt`
 *     (`body` is accepted for `json`, and `$.probes[*]` matches every probe), and
 *   - the path inside a probe's JSON body, e.g. `$.items[*].updatedAt`.
 * A rule that matches a value also covers everything below it.
 */
import { InputError } from '../errors.js';

export type Segment = string | number;

type Matcher = { k: 'key'; v: string } | { k: 'index'; v: number } | { k: 'any' } | { k: 'deep' };

const DOTTED = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function formatJsonPath(segments: readonly Segment[]): string {
  let out = '$';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (DOTTED.test(s)) out += `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** The same path with every array index replaced by `[*]` (learned noise generalises over items). */
export function generalisePath(segments: readonly Segment[]): string {
  return formatJsonPath(segments).replace(/\[\d+\]/g, '[*]');
}

export function parseRule(rule: string): Matcher[] {
  const fail = (why: string) => new InputError(`invalid JSON path ${JSON.stringify(rule)}: ${why}`);
  if (!rule.startsWith('$')) throw fail('must start with "$"');
  const out: Matcher[] = [];
  let i = 1;
  while (i < rule.length) {
    if (rule.startsWith('..', i)) {
      out.push({ k: 'deep' });
      i += 2;
      // `$..name`: the key follows directly
      const m = /^([A-Za-z_$][A-Za-z0-9_$-]*|\*)/.exec(rule.slice(i));
      if (m) {
        out.push(m[1] === '*' ? { k: 'any' } : { k: 'key', v: m[1]! });
        i += m[0].length;
      }
      continue;
    }
    const c = rule[i];
    if (c === '.') {
      const m = /^\.([A-Za-z_$][A-Za-z0-9_$-]*|\*)/.exec(rule.slice(i));
      if (!m) throw fail(`expected a key after "." at character ${i + 1}`);
      out.push(m[1] === '*' ? { k: 'any' } : { k: 'key', v: m[1]! });
      i += m[0].length;
    } else if (c === '[') {
      const m = /^\[(\*|\d+|"(?:[^"\\]|\\.)*"|'[^']*')\]/.exec(rule.slice(i));
      if (!m) throw fail(`expected [n], [*] or ["key"] at character ${i + 1}`);
      const inner = m[1]!;
      if (inner === '*') out.push({ k: 'any' });
      else if (/^\d+$/.test(inner)) out.push({ k: 'index', v: Number(inner) });
      else if (inner.startsWith('"')) out.push({ k: 'key', v: JSON.parse(inner) as string });
      else out.push({ k: 'key', v: inner.slice(1, -1) });
      i += m[0].length;
    } else throw fail(`unexpected ${JSON.stringify(c)} at character ${i + 1}`);
  }
  // `$.probes.X.body…` is the manifest's spelling of the JSON body.
  if (out[0]?.k === 'key' && out[0].v === 'probes' && out[2]?.k === 'key' && out[2].v === 'body')
    out[2] = { k: 'key', v: 'json' };
  return out;
}

function matchFrom(
  rule: Matcher[],
  ri: number,
  segs: readonly Segment[],
  si: number,
  prefix: boolean,
): boolean {
  if (ri === rule.length) return prefix || si === segs.length;
  const m = rule[ri]!;
  if (m.k === 'deep') {
    for (let j = si; j <= segs.length; j++) if (matchFrom(rule, ri + 1, segs, j, prefix)) return true;
    return false;
  }
  if (si >= segs.length) return false;
  const s = segs[si]!;
  const ok =
    m.k === 'any' ||
    (m.k === 'key' && s === m.v) ||
    (m.k === 'index' && s === m.v) ||
    // `$.probes.5xx…`-style keys written as [n] in a rule still match a string key
    (m.k === 'index' && typeof s === 'string' && s === String(m.v));
  return ok && matchFrom(rule, ri + 1, segs, si + 1, prefix);
}

/** A set of path rules; `covers` is true when a rule matches the path or one of its ancestors. */
export class PathRules {
  private readonly rules: { text: string; m: Matcher[] }[];
  constructor(rules: readonly string[] = []) {
    this.rules = rules.map((text) => ({ text, m: parseRule(text) }));
  }
  get size(): number {
    return this.rules.length;
  }
  /** segments are full paths: ['probes', name, field, …]. */
  covers(segments: readonly Segment[]): boolean {
    return this.find(segments, true) !== undefined;
  }
  /** Exact match (no ancestor): for rules that name arrays. */
  matches(segments: readonly Segment[]): boolean {
    return this.find(segments, false) !== undefined;
  }
  private find(segments: readonly Segment[], prefix: boolean): string | undefined {
    const body = segments[2] === 'json' ? segments.slice(3) : undefined;
    for (const r of this.rules) {
      if (matchFrom(r.m, 0, segments, 0, prefix)) return r.text;
      if (body && matchFrom(r.m, 0, body, 0, prefix)) return r.text;
    }
    return undefined;
  }
}
