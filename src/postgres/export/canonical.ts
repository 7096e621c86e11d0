/**
 * Canonical JSON (capsule/integrity.ts `canonicalJson`) straight from JSON text, without building
 * a lossless-json tree: the exporter hashes every row it streams, and for rows that need no
 * redaction this is several times faster than parse + canonicalJson. Must give exactly
 * `canonicalJson(parseExact(text))` (a test checks this on tricky inputs).
 */
import { canonicalJson } from '../../capsule/integrity.js';
import { LosslessNumber } from '../../util/exact-json.js';

function byKey(a: [string, string], b: [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

class Scanner {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    const s = this.s;
    let c = s.charCodeAt(this.i);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = s.charCodeAt(++this.i);
  }

  fail(): never {
    throw new SyntaxError(`invalid JSON at position ${this.i}`);
  }

  /** Position of the next backslash at or after `bs` (cached: rescanning per token would be quadratic). */
  private bs = -2;

  private nextBackslash(from: number): number {
    if (this.bs !== -1 && this.bs < from) this.bs = this.s.indexOf('\\', from);
    return this.bs;
  }

  /** Whether the last string token contained an escape. */
  private esc = false;

  /** Returns the raw string token (with quotes); sets `esc` when it contains an escape. */
  stringToken(): string {
    const s = this.s;
    const start = this.i;
    this.esc = false;
    let j = start + 1;
    for (;;) {
      const q = s.indexOf('"', j);
      if (q < 0) this.fail();
      const b = this.nextBackslash(j);
      if (b < 0 || b > q) {
        this.i = q + 1;
        return s.slice(start, q + 1);
      }
      this.esc = true;
      j = b + 2;
    }
  }

  value(): string {
    this.ws();
    const s = this.s;
    const c = s.charCodeAt(this.i);
    if (c === 0x22) {
      const tok = this.stringToken();
      return this.esc ? JSON.stringify(JSON.parse(tok) as string) : tok;
    }
    if (c === 0x7b) return this.object();
    if (c === 0x5b) return this.array();
    if (c === 0x74 && s.startsWith('true', this.i)) {
      this.i += 4;
      return 'true';
    }
    if (c === 0x66 && s.startsWith('false', this.i)) {
      this.i += 5;
      return 'false';
    }
    if (c === 0x6e && s.startsWith('null', this.i)) {
      this.i += 4;
      return 'null';
    }
    const start = this.i;
    let j = start;
    let exp = false;
    for (;;) {
      const d = s.charCodeAt(j);
      if ((d >= 0x30 && d <= 0x39) || d === 0x2d || d === 0x2b || d === 0x2e) j++;
      else if (d === 0x65 || d === 0x45) {
        exp = true;
        j++;
      } else break;
    }
    if (j === start) this.fail();
    this.i = j;
    const num = s.slice(start, j);
    return exp ? canonicalJson(new LosslessNumber(num)) : num;
  }

  object(): string {
    const s = this.s;
    this.i++; // {
    this.ws();
    if (s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return '{}';
    }
    const entries: [string, string][] = []; // [decoded key, `"key":value`]
    for (;;) {
      this.ws();
      if (s.charCodeAt(this.i) !== 0x22) this.fail();
      const tok = this.stringToken();
      const escaped = this.esc;
      const key = escaped ? (JSON.parse(tok) as string) : tok.slice(1, -1);
      this.ws();
      if (s.charCodeAt(this.i) !== 0x3a) this.fail();
      this.i++;
      entries.push([key, `${escaped ? JSON.stringify(key) : tok}:${this.value()}`]);
      this.ws();
      const c = s.charCodeAt(this.i++);
      if (c === 0x7d) break;
      if (c !== 0x2c) this.fail();
    }
    const n = entries.length;
    if (n === 1) return `{${entries[0]![1]}}`;
    entries.sort(byKey);
    let out = `{${entries[0]![1]}`;
    for (let k = 1; k < n; k++) {
      // Duplicate keys: like a parsed object, the last one wins (the sort is stable).
      if (entries[k]![0] === entries[k - 1]![0]) {
        out = out.slice(0, out.length - entries[k - 1]![1].length) + entries[k]![1];
        continue;
      }
      out += `,${entries[k]![1]}`;
    }
    return `${out}}`;
  }

  array(): string {
    this.i++; // [
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return '[]';
    }
    let out = '[';
    for (let first = true; ; first = false) {
      if (!first) out += ',';
      out += this.value();
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x5d) break;
      if (c !== 0x2c) this.fail();
    }
    return `${out}]`;
  }
}

/** `canonicalJson(parseExact(text))`, computed from the text directly. */
export function canonicalFromText(text: string): string {
  const sc = new Scanner(text);
  const out = sc.value();
  sc.ws();
  if (sc.i !== text.length) sc.fail();
  return out;
}
